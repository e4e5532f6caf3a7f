"""The ways pohmelfs reaches a Linux box: the systemd units (`systemd-analyze verify`), `make
install` into a temporary prefix, `make deb` and the package it builds, the man pages (current
with the binary, valid mdoc), and the mount path taking fstab's options, including through the
mount(8) helper with the README's own fstab line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import harness

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
UNITS = ["pohmelfs-server.service", "pohmelfs-mount@.service"]
MAN_PAGES = ["pohmelfs.1", "pohmelfs-serve.1", "pohmelfs-mount.1", "pohmelfs-status.1", "pohmelfs-locks.1", "pohmelfs-bench.1"]
COMPLETIONS = {
    "share/bash-completion/completions/pohmelfs": "pohmelfs.bash",
    "share/zsh/site-functions/_pohmelfs": "_pohmelfs",
    "share/fish/vendor_completions.d/pohmelfs.fish": "pohmelfs.fish",
}
#: `make deb` includes a release build: minutes on a fresh checkout.
DEB_TIMEOUT = 900


def run(args, *, timeout=120, env=None, cwd=REPO) -> subprocess.CompletedProcess:
    """Runs a command in its own process group, killing the whole group on timeout (make and
    swift start children), and returns its text output."""
    proc = subprocess.Popen([str(a) for a in args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{args} did not finish within {timeout} s; stderr: {err[-4000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def make(*targets_and_variables, timeout=120) -> subprocess.CompletedProcess:
    result = run(["make", "--no-print-directory", *targets_and_variables], timeout=timeout)
    assert result.returncode == 0, f"make {' '.join(map(str, targets_and_variables))} failed:\n{result.stderr[-6000:]}"
    return result


def verify_units(unit_dir: Path, man_dir: Path, tmp_path: Path, exec_rewrite: tuple[str, str] | None = None):
    """`systemd-analyze verify` on the units in `unit_dir`, the template through an instance
    (pohmelfs-mount@mnt-share.service), man pages looked up in `man_dir`. Every complaint
    fails, warnings included (an unknown key is only a warning, exit status 0)."""
    work = tmp_path / "verify"
    work.mkdir()
    for unit in UNITS:
        text = (unit_dir / unit).read_text()
        if exec_rewrite:
            text = text.replace(*exec_rewrite)
        (work / unit).write_text(text)
    (work / "pohmelfs-mount@mnt-share.service").symlink_to("pohmelfs-mount@.service")
    env = dict(os.environ, MANPATH=str(man_dir), SYSTEMD_LOG_COLOR="0")
    result = run(["systemd-analyze", "verify", "--man=yes",
                  work / "pohmelfs-server.service", work / "pohmelfs-mount@mnt-share.service"], env=env)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        f"systemd-analyze verify complained (status {result.returncode}):\n{result.stdout}{result.stderr}")


# make install ------------------------------------------------------------------------------------


@pytest.fixture
def installed(pohmelfs_bin, tmp_path) -> SimpleNamespace:
    """`make install-files` (make install without the release build) of the binary under test
    into a temporary prefix, with /sbin and /etc inside it too."""
    root = tmp_path / "root"
    prefix = root / "usr"
    variables = [f"PREFIX={prefix}", f"SBINDIR={root}/sbin", f"SYSCONFDIR={root}/etc", f"INSTALL_BIN={pohmelfs_bin}"]
    make("install-files", *variables)
    return SimpleNamespace(root=root, prefix=prefix, variables=variables)


def test_make_install_puts_every_file_in_place(installed, pohmelfs_bin):
    prefix, root = installed.prefix, installed.root
    binary = prefix / "bin" / "pohmelfs"
    assert os.access(binary, os.X_OK)
    version = run([binary, "--version"])
    assert version.returncode == 0 and version.stdout.strip() == run([pohmelfs_bin, "--version"]).stdout.strip()

    helper = root / "sbin" / "mount.fuse.pohmelfs"
    assert os.access(helper, os.X_OK)
    assert f"bin=${{POHMELFS_BIN:-{binary}}}" in helper.read_text().splitlines()

    for unit in UNITS:
        text = (prefix / "lib/systemd/system" / unit).read_text()
        assert f"ExecStart={binary} " in text and "ExecStart=/usr/bin/pohmelfs" not in text
    for page in MAN_PAGES:
        assert (prefix / "share/man/man1" / page).read_bytes() == (PACKAGING / "man" / page).read_bytes()
    assert (prefix / "share/man/man8/mount.fuse.pohmelfs.8").read_bytes() == (
        PACKAGING / "man" / "mount.fuse.pohmelfs.8").read_bytes()
    for path, source in COMPLETIONS.items():
        assert (prefix / path).read_bytes() == (REPO / "completions" / source).read_bytes()
    assert (root / "etc/default/pohmelfs").read_bytes() == (PACKAGING / "pohmelfs.default").read_bytes()


def test_make_install_keeps_the_administrators_settings_and_uninstall_leaves_them(installed):
    settings = installed.root / "etc/default/pohmelfs"
    settings.write_text("POHMELFS_EXPORT=/srv/mine\n")
    make("install-files", *installed.variables)
    assert settings.read_text() == "POHMELFS_EXPORT=/srv/mine\n"
    make("uninstall", *installed.variables)
    left = sorted(str(p.relative_to(installed.root)) for p in installed.root.rglob("*") if p.is_file())
    assert left == ["etc/default/pohmelfs"]


def test_installed_units_pass_systemd_analyze_verify(installed, tmp_path):
    verify_units(installed.prefix / "lib/systemd/system", installed.prefix / "share/man", tmp_path)


def test_units_are_notify_services_with_watchdog_and_the_server_keeps_its_capabilities():
    def settings(unit):
        pairs = [line.split("=", 1) for line in (PACKAGING / unit).read_text().splitlines()
                 if "=" in line and not line.startswith("#")]
        return {key: value for key, value in pairs}

    server, mount = settings("pohmelfs-server.service"), settings("pohmelfs-mount@.service")
    assert server["Type"] == mount["Type"] == "notify"
    assert server["Restart"] == "on-failure" and server["WatchdogSec"]
    assert server["EnvironmentFile"] == "-/etc/default/pohmelfs"
    assert server["StateDirectory"] == "pohmelfs" and server["ProtectSystem"] == "strict"
    capabilities = set(server["CapabilityBoundingSet"].split())
    assert {"CAP_DAC_READ_SEARCH", "CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_FOWNER", "CAP_FSETID", "CAP_MKNOD",
            "CAP_SETUID", "CAP_SETGID"} <= capabilities
    # Options that would hide the export's or the mount's filesystems.
    for hiding in ("PrivateMounts", "ProtectHome", "TemporaryFileSystem", "PrivateDevices", "InaccessiblePaths"):
        assert hiding not in server, hiding
    for sandboxing in ("ProtectSystem", "PrivateTmp", "PrivateMounts", "ProtectHome", "ReadWritePaths"):
        assert sandboxing not in mount, f"{sandboxing} would give the mount a private namespace"
    assert "network-online.target" in mount["After"] and "network-online.target" in mount["Wants"]
    assert " -f" in mount["ExecStart"] and "%f" in mount["ExecStart"]
    assert mount["EnvironmentFile"] == "/etc/pohmelfs/mounts/%i.conf"


def test_the_default_file_documents_every_variable_the_server_unit_reads():
    unit = (PACKAGING / "pohmelfs-server.service").read_text()
    used = set(re.findall(r"\$\{?(POHMELFS_[A-Z_]+)", unit.split("ExecStart=", 1)[1].splitlines()[0]))
    assert used == {"POHMELFS_EXPORT", "POHMELFS_LISTEN", "POHMELFS_ARGS"}
    documented = (PACKAGING / "pohmelfs.default").read_text()
    for variable in used:
        assert re.search(rf"^#{variable}=", documented, re.M), f"{variable} is not documented in pohmelfs.default"


# make deb ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def deb(deb_build) -> SimpleNamespace:
    """`make deb` once per session (it includes the release build): started in the background
    when the session was collected, these tests run last and wait for it (background_deb.py)."""
    path = deb_build.wait(timeout=DEB_TIMEOUT)
    return SimpleNamespace(path=path, out=path.parent)


@pytest.fixture(scope="session")
def unpacked(deb, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deb-root")
    result = run(["dpkg-deb", "-x", deb.path, root])
    assert result.returncode == 0, result.stderr
    return root


def field(deb_path: Path, name: str) -> str:
    result = run(["dpkg-deb", "-f", deb_path, name])
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.timeout_seconds(DEB_TIMEOUT)
def test_make_deb_builds_a_package_with_the_expected_files(deb):
    contents = run(["dpkg-deb", "--contents", deb.path])
    assert contents.returncode == 0, contents.stderr
    listed = {}
    for line in contents.stdout.splitlines():
        mode, owner, *_rest, path = line.split(maxsplit=5)
        listed[path.removeprefix(".")] = (mode, owner)
    expected = [
        "/usr/bin/pohmelfs",
        "/sbin/mount.fuse.pohmelfs",
        "/lib/systemd/system/pohmelfs-server.service",
        "/lib/systemd/system/pohmelfs-mount@.service",
        "/etc/default/pohmelfs",
        "/usr/share/bash-completion/completions/pohmelfs",
        "/usr/share/zsh/vendor-completions/_pohmelfs",
        "/usr/share/fish/vendor_completions.d/pohmelfs.fish",
        "/usr/share/doc/pohmelfs/README.md.gz",
    ] + [f"/usr/share/man/man1/{page}.gz" for page in MAN_PAGES] + ["/usr/share/man/man8/mount.fuse.pohmelfs.8.gz"]
    for path in expected:
        assert path in listed, f"{path} is not in the package:\n{contents.stdout}"
        assert listed[path][1] == "root/root", f"{path} is owned by {listed[path][1]}"
    assert listed["/usr/bin/pohmelfs"][0] == "-rwxr-xr-x"
    assert listed["/sbin/mount.fuse.pohmelfs"][0] == "-rwxr-xr-x"
    assert listed["/etc/default/pohmelfs"][0] == "-rw-r--r--"


@pytest.mark.timeout_seconds(DEB_TIMEOUT)
def test_the_package_declares_its_version_dependencies_and_conffile(deb, pohmelfs_bin, tmp_path):
    version = run([pohmelfs_bin, "--version"]).stdout.strip()
    assert field(deb.path, "Package") == "pohmelfs"
    assert field(deb.path, "Version") == version
    assert deb.path.name == f"pohmelfs_{version}_{field(deb.path, 'Architecture')}.deb"
    assert re.fullmatch(r".+ <[^@\s]+@[^>\s]+>", field(deb.path, "Maintainer"))
    assert field(deb.path, "Description")
    depends = {re.split(r"[\s(]", item.strip())[0] for item in field(deb.path, "Depends").split(",")}
    assert {"fuse3", "libfuse3-3", "libsystemd0"} <= depends, depends
    # libcephfs is opened only by `serve --store cephfs`: suggested, not required.
    assert "libcephfs2" not in depends and field(deb.path, "Suggests") == "libcephfs2", depends
    for package in depends:
        # Every dependency is a real Debian package name on this system.
        known = run(["apt-cache", "show", "--no-all-versions", package])
        installed = run(["dpkg-query", "-W", package])
        assert known.returncode == 0 or installed.returncode == 0, f"no Debian package named {package}"
    # apt would install it here, dependencies and all (a simulation: nothing changes).
    simulated = run(["apt-get", "install", "--simulate", "--no-install-recommends", deb.path.resolve()], timeout=120)
    assert simulated.returncode == 0 and "Inst pohmelfs" in simulated.stdout, simulated.stdout + simulated.stderr
    control = tmp_path / "control"
    assert run(["dpkg-deb", "-e", deb.path, control]).returncode == 0
    assert (control / "conffiles").read_text().split() == ["/etc/default/pohmelfs"]


@pytest.mark.timeout_seconds(DEB_TIMEOUT)
def test_the_unpacked_package_runs_without_the_swift_toolchain(unpacked, pohmelfs_bin):
    binary = unpacked / "usr/bin/pohmelfs"
    # Only the system's libraries: no Swift runtime from a toolchain directory.
    libraries = run(["ldd", binary])
    assert libraries.returncode == 0, libraries.stderr
    assert "not found" not in libraries.stdout and "swift" not in libraries.stdout.lower(), libraries.stdout
    env = {"PATH": "/usr/bin:/bin", "LANG": "C"}
    result = run([binary, "--version"], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == run([pohmelfs_bin, "--version"]).stdout.strip()
    helper = (unpacked / "sbin/mount.fuse.pohmelfs").read_text()
    assert "bin=${POHMELFS_BIN:-/usr/bin/pohmelfs}" in helper.splitlines()


@pytest.mark.timeout_seconds(DEB_TIMEOUT)
def test_the_packaged_units_pass_systemd_analyze_verify(unpacked, tmp_path):
    # ExecStart names /usr/bin/pohmelfs, which verify requires to exist: point it at the
    # unpacked binary. The man pages are the package's own (gzipped, as man reads them).
    verify_units(unpacked / "lib/systemd/system", unpacked / "usr/share/man", tmp_path,
                 exec_rewrite=("/usr/bin/pohmelfs", str(unpacked / "usr/bin/pohmelfs")))


# Man pages ---------------------------------------------------------------------------------------


def without_date(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(".Dd "))


@pytest.mark.timeout_seconds(300)
def test_committed_man_pages_match_the_binary(pohmelfs_bin, tmp_path):
    out = tmp_path / "man"
    result = run([PACKAGING / "generate-man.sh", out], env=dict(os.environ, POHMELFS_BIN=str(pohmelfs_bin)),
                 timeout=280)
    assert result.returncode == 0, result.stderr[-4000:]
    generated = sorted(p.name for p in out.iterdir())
    assert generated == sorted(MAN_PAGES)
    assert sorted(p.name for p in (PACKAGING / "man").glob("*.1")) == sorted(MAN_PAGES)
    for page in MAN_PAGES:
        committed = (PACKAGING / "man" / page).read_text()
        assert without_date(committed) == without_date((out / page).read_text()), (
            f"packaging/man/{page} is stale: run `make man` and commit it")


def test_man_pages_are_valid_and_cross_referenced():
    pages = [PACKAGING / "man" / page for page in MAN_PAGES]
    result = run(["groff", "-mandoc", "-Tutf8", "-ww", "-z", *pages])
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    root = (PACKAGING / "man" / "pohmelfs.1").read_text()
    for page in MAN_PAGES[1:]:
        name = page.removesuffix(".1")
        assert f".Xr {name} 1" in root, f"pohmelfs(1) does not refer to {name}(1)"
        assert f".Dt {name.upper()} 1" in (PACKAGING / "man" / page).read_text()
    assert "pohmelfs.help" not in root and "pohmelfs-help" not in root


# fstab options -------------------------------------------------------------------------------------


def readme_fstab_line() -> tuple[str, str, str, str]:
    """(source, mountpoint, type, options) of the fstab example in the README."""
    for line in (REPO / "README.md").read_text().splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[2] == "fuse.pohmelfs":
            return tuple(fields[:4])
    raise AssertionError("the README has no fstab line of type fuse.pohmelfs")


def test_the_readme_fstab_line_has_the_boot_safe_options():
    options = readme_fstab_line()[3].split(",")
    assert {"_netdev", "nofail", "x-systemd.automount"} <= set(options)


def test_mount_accepts_fstab_and_systemd_options(server, mount_factory):
    handle = mount_factory(server, "_netdev,nofail,x-systemd.automount,x-systemd.mount-timeout=10")
    (handle.mountpoint / "fstab").write_text("works\n")
    assert (server.export / "fstab").read_text() == "works\n"


def test_the_mount_helper_mounts_the_readme_fstab_line(server, registry, pohmelfs_bin, tmp_path):
    """mount(8) runs `/sbin/mount.fuse.pohmelfs SOURCE MOUNTPOINT -o OPTIONS` for an fstab line
    (with rw added); the helper must mount it, options and all, and return once mounted."""
    source, _, _, options = readme_fstab_line()
    subdirectory = source.split(":/", 1)[1] if ":/" in source else ""
    (server.export / subdirectory).mkdir(parents=True, exist_ok=True)
    (server.export / subdirectory / "hello").write_text("from the server\n")
    mountpoint = tmp_path / "fstab-mnt"
    mountpoint.mkdir()
    registry.mounts.append(SimpleNamespace(mountpoint=mountpoint, device=None))
    env = dict(os.environ, POHMELFS_BIN=str(pohmelfs_bin))
    result = registry.run(
        [PACKAGING / "mount.fuse.pohmelfs", f"{server.address}:/{subdirectory}", mountpoint,
         "-o", f"rw,{options},x-systemd.mount-timeout=10"], env=env)
    try:
        assert result.returncode == 0, result.stderr
        assert harness.is_mounted(mountpoint)
        assert (mountpoint / "hello").read_text() == "from the server\n"
    finally:
        harness.lazy_unmount(mountpoint)
        # The detached client exits once unmounted.
        deadline = time.monotonic() + 10
        while harness.processes_mentioning(str(mountpoint)) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not harness.processes_mentioning(str(mountpoint)), "the mount daemon outlived its unmount"
