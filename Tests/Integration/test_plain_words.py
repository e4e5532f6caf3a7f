"""Errors in a person's words (issue 18, item 2): no library internals in what a user reads,
addresses written as users write them, and a command line that cannot run is one line naming
the bad value, with the usage hint and exit status 2 (README, "Exit status"; runtime failures
are exit status 1).
"""

import os
import re

import pytest

needs_fuse = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

USAGE = 2
FAILURE = 1
INTERNALS = re.compile(r"\[IPv[46]\][0-9a-f]|SocketAddressError|\(error -?\d+\)|NIOConnectionError|IOError|ChannelError")


def one_line(result, command, status):
    assert result.returncode == status, f"exit {result.returncode}, expected {status}: {result.stderr!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line: {result.stderr!r}"
    assert lines[0].startswith(f"pohmelfs {command}: "), lines[0]
    assert not INTERNALS.search(lines[0]), lines[0]
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize("args, command, names", [
    (["serve"], "serve", "--export"),
    (["serve", "--export", "{tmp}", "--log-level", "verbose"], "serve", "'verbose'"),
    (["serve", "--export", "{tmp}", "--listen", "127.0.0.1:99999"], "serve", "'127.0.0.1:99999'"),
    (["bench", "{tmp}", "--size", "12X"], "bench", "'12X'"),
    (["mount", "127.0.0.1", "{tmp}", "-o", "cache=sometimes"], "mount", "'cache=sometimes'"),
    (["locks", "127.0.0.1", "--interval", "0"], "locks", "--interval"),
], ids=["serve-without-export", "log-level-verbose", "listen-port", "bench-size", "mount-option", "locks-interval"])
def test_a_bad_command_line_is_one_line_naming_the_value_with_the_usage_hint(run_pohmelfs, tmp_path, args, command,
                                                                            names):
    result = run_pohmelfs(*[arg.replace("{tmp}", str(tmp_path)) for arg in args])
    line = one_line(result, command, USAGE)
    assert names in line, line
    assert f"(see 'pohmelfs {command} --help')" in line, line


def test_the_log_level_error_lists_the_levels(run_pohmelfs, tmp_path):
    line = one_line(run_pohmelfs("serve", "--export", tmp_path, "--log-level", "verbose"), "serve", USAGE)
    assert "trace, debug, info, notice, warning, error, critical" in line, line


def test_an_ipv6_address_with_a_port_but_no_brackets_gets_the_bracketed_form(run_pohmelfs, tmp_path):
    line = one_line(run_pohmelfs("mount", "::1:17204", tmp_path), "mount", USAGE)
    assert "[::1]:17204" in line, line
    line = one_line(run_pohmelfs("mount", "::1:17204:/sub", tmp_path), "mount", USAGE)
    assert "[::1]:17204:/sub" in line, line
    line = one_line(run_pohmelfs("locks", "::1:17204"), "locks", USAGE)
    assert "[::1]:17204" in line, line


def test_a_timeout_without_soft_is_refused_not_ignored(run_pohmelfs, tmp_path):
    line = one_line(run_pohmelfs("mount", "127.0.0.1", tmp_path, "-o", "timeout=5"), "mount", USAGE)
    assert "'timeout=5'" in line and "soft,timeout=5" in line, line


@pytest.mark.parametrize("command", ["mount", "locks", "serve"])
def test_an_unknown_host_is_named_without_resolver_internals(run_pohmelfs, tmp_path, command):
    args = {
        "mount": ["mount", "nosuchhost.invalid:/", tmp_path, "-f"],
        "locks": ["locks", "nosuchhost.invalid"],
        "serve": ["serve", "--export", tmp_path, "--state-dir", tmp_path / "state", "--listen",
                  "nosuchhost.invalid:7000"],
    }[command]
    line = one_line(run_pohmelfs(*args), command, FAILURE)
    assert "unknown host 'nosuchhost.invalid'" in line, line


@needs_fuse
def test_the_server_log_writes_peers_as_users_write_them(server, mount_factory):
    mount_factory(server)
    server_log = server.log_text()
    peers = re.findall(r"peer=(\S+)", server_log)
    assert peers, server_log
    for peer in peers:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", peer.strip('"')), peer
    assert "[IPv4]" not in server_log
