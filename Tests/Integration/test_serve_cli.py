"""`pohmelfs serve` and `pohmelfs --help` as a user meets them: errors are one line, name the
culprit, and exit non-zero; help lists only what exists."""

import re
import shlex
import socket
from pathlib import Path

import pytest

import harness

PLANNED_BUT_MAYBE_ABSENT = ("not implemented", "not yet", "coming soon", "placeholder", "todo")


def one_line_error(result):
    """The stderr of a failed `pohmelfs serve` run, asserted to be exactly one line."""
    assert result.returncode != 0, f"expected failure, got 0; stdout={result.stdout!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got: {result.stderr!r}"
    assert lines[0].startswith("pohmelfs serve: "), lines[0]
    return lines[0]


def serve_args(tmp_path, export, listen=None):
    args = ["serve", "--export", str(export), "--state-dir", str(tmp_path / "state")]
    return args + (["--listen", listen] if listen else [])


def test_missing_export_fails_naming_the_path(run_pohmelfs, tmp_path, free_port):
    missing = tmp_path / "no-such-dir"
    line = one_line_error(run_pohmelfs(*serve_args(tmp_path, missing, f"127.0.0.1:{free_port()}")))
    assert str(missing) in line
    assert "does not exist" in line or "no such" in line.lower()


def test_export_that_is_a_file_fails_naming_the_path(run_pohmelfs, tmp_path, free_port):
    regular = tmp_path / "a-file"
    regular.write_text("not a directory\n")
    line = one_line_error(run_pohmelfs(*serve_args(tmp_path, regular, f"127.0.0.1:{free_port()}")))
    assert str(regular) in line
    assert "not a directory" in line


def test_port_in_use_fails_saying_so(run_pohmelfs, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(run_pohmelfs(*serve_args(tmp_path, export, f"127.0.0.1:{port}")))
    assert "in use" in line
    assert str(port) in line


@pytest.mark.parametrize("listen", ["999.1.1.1:80", "host:notaport", "127.0.0.1:0", "127.0.0.1:70000", "[::1", ":7646"])
def test_bad_listen_address_fails_naming_it(run_pohmelfs, tmp_path, listen):
    export = tmp_path / "export"
    export.mkdir()
    line = one_line_error(run_pohmelfs(*serve_args(tmp_path, export, listen), timeout=60))
    assert listen in line or listen.split(":")[0] in line, line


def test_serve_without_export_is_a_usage_error(run_pohmelfs):
    result = run_pohmelfs("serve")
    assert result.returncode != 0
    assert "--export" in result.stderr


def test_unknown_subcommand_fails(run_pohmelfs):
    result = run_pohmelfs("frobnicate")
    assert result.returncode != 0
    assert "frobnicate" in result.stderr


def listed_subcommands(help_text):
    """Names in the SUBCOMMANDS section of swift-argument-parser's help."""
    section = help_text.split("SUBCOMMANDS:", 1)[1]
    names = []
    for line in section.splitlines():
        match = re.match(r"^  (\S+)(\s|$)", line)
        if match and not line.strip().startswith("See "):
            names.append(match.group(1))
    return names


def test_root_help_lists_serve(run_pohmelfs):
    result = run_pohmelfs("--help")
    assert result.returncode == 0
    assert "serve" in listed_subcommands(result.stdout)


def test_root_help_lists_only_subcommands_that_exist(run_pohmelfs):
    """Every listed subcommand has working help that does not call it a placeholder; nothing
    in the help promises a command that is not there."""
    result = run_pohmelfs("--help")
    assert result.returncode == 0
    for word in PLANNED_BUT_MAYBE_ABSENT:
        assert word not in result.stdout.lower(), f"root help mentions {word!r}"
    for name in listed_subcommands(result.stdout):
        if name == "help":
            continue
        sub = run_pohmelfs(name, "--help")
        assert sub.returncode == 0, f"`pohmelfs {name} --help` failed: {sub.stderr}"
        assert sub.stdout.strip(), f"`pohmelfs {name} --help` printed nothing"
        for word in PLANNED_BUT_MAYBE_ABSENT:
            assert word not in sub.stdout.lower(), f"`pohmelfs {name} --help` mentions {word!r}"


def test_serve_help_documents_its_options_and_default_port(run_pohmelfs):
    result = run_pohmelfs("serve", "--help")
    assert result.returncode == 0
    for option in ("--export", "--listen", "--state-dir", "--io-threads", "--log-level"):
        assert option in result.stdout
    assert "7646" in result.stdout


def test_version_prints_a_version(run_pohmelfs):
    result = run_pohmelfs("--version")
    assert result.returncode == 0
    assert re.search(r"\d+\.\d+", result.stdout)


def test_server_fixture_serves_on_the_given_port(server):
    """The `server` fixture's promise: ready means listening, on `server.port`."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    assert server.proc.poll() is None
    assert server.export.is_dir()
    assert any(line.startswith("STATUS=") for line in server.notify.assignments())


def test_two_servers_in_one_test_get_their_own_exports_and_ports(server_factory):
    first = server_factory()
    second = server_factory()
    assert first.port != second.port
    assert first.export != second.export
    assert first.log != second.log


@pytest.mark.parametrize("listen", ["0.0.0.0:7646", "[::]:7646"])
def test_non_loopback_listen_without_insecure_is_refused_saying_why(run_pohmelfs, tmp_path, listen):
    """Secure by default: no authentication exists yet, so only loopback is served unless
    --insecure is given; the refusal is one line naming the address and the reason."""
    export = tmp_path / "export"
    export.mkdir()
    line = one_line_error(run_pohmelfs(*serve_args(tmp_path, export, listen), timeout=60))
    assert listen in line and "--insecure" in line and "authenticat" in line, line


@pytest.mark.parametrize("option", [["--allow", "10.0.0.0/33"], ["--allow", "example.org"],
                                    ["--root-squash", "--all-squash"], ["--max-connections", "0"]])
def test_bad_policy_options_fail_in_one_line(run_pohmelfs, tmp_path, option):
    export = tmp_path / "export"
    export.mkdir()
    line = one_line_error(run_pohmelfs(*serve_args(tmp_path, export), *option, timeout=60))
    assert option[0] in line, line


def without_libcephfs(pohmelfs_bin, *args) -> list[str]:
    """A command line running `pohmelfs ARGS` in a private mount namespace where libcephfs cannot
    be loaded (its file replaced by an empty one), as on a machine that never installed it."""
    library = Path("/lib/x86_64-linux-gnu/libcephfs.so.2")
    hide = f"mount --bind /dev/null {shlex.quote(str(library.resolve()))} && " if library.exists() else ""
    return ["unshare", "-m", "sh", "-c", hide + 'exec "$@"', "sh", str(pohmelfs_bin), *map(str, args)]


@pytest.mark.timeout_seconds(60)
def test_a_local_export_serves_without_libcephfs_and_cephfs_says_what_is_missing(
    registry, pohmelfs_bin, tmp_path, free_port
):
    """libcephfs is opened only for `--store cephfs`: without it a local export still serves (a
    linked library would stop the process before it starts), and the CephFS store says in one
    line what is missing."""
    cephfs = registry.run(without_libcephfs(
        pohmelfs_bin, "serve", "--store", "cephfs", "--export", "/x", "--ceph-conf", "/etc/hostname",
        "--state-dir", tmp_path / "ceph-state", "--listen", f"127.0.0.1:{free_port()}"))
    line = one_line_error(cephfs)
    assert "cannot load libcephfs" in line and "libcephfs2" in line, line
    export = tmp_path / "export"
    export.mkdir()
    port = free_port()
    server = registry.spawn(
        without_libcephfs(pohmelfs_bin, *serve_args(tmp_path, export, f"127.0.0.1:{port}")),
        log=tmp_path / "serve.log", label="serve without libcephfs")

    def accepting():
        assert server.poll() is None, (tmp_path / "serve.log").read_text()
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        assert harness.wait_until(accepting, timeout=15, step=0.1), (tmp_path / "serve.log").read_text()
    finally:
        harness.stop_process(server)
