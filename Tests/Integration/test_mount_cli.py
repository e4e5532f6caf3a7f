"""`pohmelfs mount` as a user meets it: one-line errors within seconds, `:/SUBDIR`, `-o ro`,
`-o fsname`, the background mode, and `mount -t fuse.pohmelfs` / fstab through the mount(8)
helper in packaging/.

Mounts made without `mount_factory` (background mode, mount(8)) are unmounted, and their
daemons killed, in a `finally` (`BackgroundMounts`), so nothing outlives a failing test.
"""

import errno
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import harness
from harness import wait_until

from posix_helpers import expect_errno

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

ERROR_DEADLINE = 5.0  # "within a few seconds"
REPO_ROOT = Path(__file__).resolve().parents[2]


def one_line_error(result, elapsed):
    """The stderr of a failed `pohmelfs mount`, asserted to be exactly one line, prompt."""
    assert result.returncode != 0, f"expected failure, got 0; stderr={result.stderr!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got: {result.stderr!r}"
    assert lines[0].startswith("pohmelfs mount: "), lines[0]
    assert elapsed < ERROR_DEADLINE, f"the error took {elapsed:.1f} s: {lines[0]}"
    return lines[0]


def daemons_of(mountpoint):
    """pohmelfs processes (not zombies) naming `mountpoint` on their command line (pgrep -f)."""
    return [(pid, cmd) for pid, cmd in harness.processes_mentioning(str(mountpoint)) if "pohmelfs" in cmd]


class BackgroundMounts:
    """Mountpoints mounted outside mount_factory: teardown detaches them and kills any daemon
    still naming them, so a failure cannot leave a mount or a process behind."""

    def __init__(self):
        self.mountpoints: list[Path] = []

    def add(self, mountpoint):
        self.mountpoints.append(Path(mountpoint))
        return Path(mountpoint)

    def cleanup(self):
        for mountpoint in self.mountpoints:
            if harness.is_mounted(mountpoint):
                harness.lazy_unmount(mountpoint)
                subprocess.run(["umount", "-l", str(mountpoint)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=10, check=False)
            for pid, _ in daemons_of(mountpoint):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_until(lambda: not daemons_of(mountpoint), 5)


@pytest.fixture
def background():
    mounts = BackgroundMounts()
    try:
        yield mounts
    finally:
        mounts.cleanup()


def run_mount(run_pohmelfs, *args, timeout=20):
    started = time.monotonic()
    result = run_pohmelfs("mount", *map(str, args), timeout=timeout)
    return result, time.monotonic() - started


# One-line errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("foreground", [False, True], ids=["background", "foreground"])
def test_unreachable_server_is_a_prompt_one_line_error_naming_it(run_pohmelfs, tmp_path, free_port, background,
                                                                 foreground):
    port = free_port()  # nothing listens there
    mountpoint = background.add(tmp_path / "mnt")
    mountpoint.mkdir()
    result, elapsed = run_mount(run_pohmelfs, f"127.0.0.1:{port}", mountpoint, *(["-f"] if foreground else []))
    line = one_line_error(result, elapsed)
    assert f"127.0.0.1:{port}" in line
    assert not harness.is_mounted(mountpoint)
    assert not daemons_of(mountpoint)


def test_missing_mountpoint(run_pohmelfs, server, tmp_path):
    missing = tmp_path / "no-such-dir"
    result, elapsed = run_mount(run_pohmelfs, server.address, missing)
    line = one_line_error(result, elapsed)
    assert str(missing) in line and "does not exist" in line


def test_mountpoint_that_is_a_file(run_pohmelfs, server, tmp_path):
    regular = tmp_path / "a-file"
    regular.write_text("x")
    result, elapsed = run_mount(run_pohmelfs, server.address, regular)
    line = one_line_error(result, elapsed)
    assert str(regular) in line and "not a directory" in line


def test_busy_mountpoint(run_pohmelfs, server, mount_factory):
    mount = mount_factory(server)
    (mount.mountpoint / "still-there").write_bytes(b"x")
    result, elapsed = run_mount(run_pohmelfs, server.address, mount.mountpoint)
    line = one_line_error(result, elapsed)
    assert str(mount.mountpoint) in line and "busy" in line
    # The existing mount is untouched and still the only one there.
    assert (mount.mountpoint / "still-there").read_bytes() == b"x"
    with open("/proc/self/mountinfo") as f:
        assert sum(1 for line in f if line.split()[4] == str(mount.mountpoint)) == 1


@pytest.mark.parametrize("option", ["bogus_option", "attr_timeout=soon", "cache=sometimes", "fsname=", "cache_size=10K",
                                    "writeback=maybe"])
def test_unknown_or_malformed_option(run_pohmelfs, server, tmp_path, option):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result, elapsed = run_mount(run_pohmelfs, server.address, mountpoint, "-o", f"ro,{option}")
    line = one_line_error(result, elapsed)
    assert f"'{option}'" in line
    assert not harness.is_mounted(mountpoint)


@pytest.mark.parametrize("source", ["host:notaport", "127.0.0.1:70000", ""])
def test_malformed_source(run_pohmelfs, tmp_path, source):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result, elapsed = run_mount(run_pohmelfs, source, mountpoint)
    line = one_line_error(result, elapsed)
    assert f"'{source}'" in line
    assert not harness.is_mounted(mountpoint)


def test_missing_subdirectory(run_pohmelfs, server, tmp_path, background):
    mountpoint = background.add(tmp_path / "mnt")
    mountpoint.mkdir()
    (server.export / "file").write_bytes(b"x")
    for subdir in ("nothere", "file"):
        result, elapsed = run_mount(run_pohmelfs, f"{server.address}:/{subdir}", mountpoint)
        line = one_line_error(result, elapsed)
        assert f"'{subdir}'" in line
        assert not harness.is_mounted(mountpoint)
    assert not daemons_of(mountpoint)


def fake_server_answering_hello_with(status):
    """A TCP server that reads one frame and answers it with `status` and no payload, as a
    server with no common protocol version does; returns (port, thread, listener)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve():
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(5)
            header = b""
            while len(header) < 24:
                part = connection.recv(24 - len(header))
                if not part:
                    return
                header += part
            magic, version, flags, opcode, transaction, _, length = struct.unpack("<IBBHQII", header)
            remaining = length
            while remaining:
                part = connection.recv(min(remaining, 65536))
                if not part:
                    return
                remaining -= len(part)
            connection.sendall(struct.pack("<IBBHQII", magic, 1, 1, opcode, transaction, status, 0))
            time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, listener


def test_protocol_version_mismatch(run_pohmelfs, tmp_path):
    port, thread, listener = fake_server_answering_hello_with(errno.EPROTONOSUPPORT)
    try:
        mountpoint = tmp_path / "mnt"
        mountpoint.mkdir()
        result, elapsed = run_mount(run_pohmelfs, f"127.0.0.1:{port}", mountpoint, "-f")
        line = one_line_error(result, elapsed)
        assert "version" in line.lower(), line
        assert not harness.is_mounted(mountpoint)
    finally:
        listener.close()
        thread.join(timeout=5)


# What a mount shows -----------------------------------------------------------------------------


def test_a_subdirectory_mount_shows_only_that_subtree(server, mount_factory):
    (server.export / "a" / "b" / "c").mkdir(parents=True)
    (server.export / "a" / "b" / "file").write_bytes(b"in b")
    (server.export / "a" / "outside-b").write_bytes(b"no")
    (server.export / "top").write_bytes(b"no")
    mount = mount_factory(server, subdir="a/b")
    assert sorted(os.listdir(mount.mountpoint)) == ["c", "file"]
    assert (mount.mountpoint / "file").read_bytes() == b"in b"
    (mount.mountpoint / "c" / "new").write_bytes(b"new")
    assert (server.export / "a" / "b" / "c" / "new").read_bytes() == b"new"
    # `..` of the mount root is the mountpoint's parent, never the export's `a`.
    assert sorted(os.listdir(mount.mountpoint / "..")) == sorted(os.listdir(mount.mountpoint.parent))
    expect_errno(errno.ENOENT, os.stat, mount.mountpoint / "outside-b")


def test_read_only_mount_refuses_writes_with_erofs(server, mount_factory):
    (server.export / "file").write_bytes(b"read me")
    (server.export / "dir").mkdir()
    mount = mount_factory(server, options="ro")
    root = mount.mountpoint
    assert (root / "file").read_bytes() == b"read me"
    assert sorted(os.listdir(root)) == ["dir", "file"]
    expect_errno(errno.EROFS, os.open, root / "file", os.O_WRONLY)
    expect_errno(errno.EROFS, os.open, root / "new", os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.EROFS, os.mkdir, root / "newdir")
    expect_errno(errno.EROFS, os.unlink, root / "file")
    expect_errno(errno.EROFS, os.rmdir, root / "dir")
    expect_errno(errno.EROFS, os.rename, root / "file", root / "renamed")
    expect_errno(errno.EROFS, os.symlink, "file", root / "link")
    expect_errno(errno.EROFS, os.truncate, root / "file", 0)
    expect_errno(errno.EROFS, os.chmod, root / "file", 0o600)
    expect_errno(errno.EROFS, os.utime, root / "file", None)
    expect_errno(errno.EROFS, os.setxattr, root / "file", "user.x", b"1")
    assert os.statvfs(root).f_flag & os.ST_RDONLY
    assert (server.export / "file").read_bytes() == b"read me"
    assert sorted(os.listdir(server.export)) == ["dir", "file"]


def mounts_entry(mountpoint):
    """(source, type, options) of `mountpoint` in /proc/mounts."""
    with open("/proc/mounts") as f:
        for line in f:
            source, point, kind, options = line.split()[:4]
            if point == str(mountpoint):
                return source, kind, options.split(",")
    raise AssertionError(f"{mountpoint} is not in /proc/mounts")


def test_fsname_and_type_in_proc_mounts(server, mount_factory):
    named = mount_factory(server, options="fsname=myshare")
    assert mounts_entry(named.mountpoint)[:2] == ("myshare", "fuse.pohmelfs")
    default = mount_factory(server)
    source, kind, _ = mounts_entry(default.mountpoint)
    assert kind == "fuse.pohmelfs"
    assert source in (server.address, server.address + ":/"), source  # by default, the server


# The background mode, mount(8) and fstab --------------------------------------------------------


def check_usable(mountpoint, export, name):
    assert harness.is_mounted(mountpoint) and os.path.ismount(mountpoint)
    (Path(mountpoint) / name).write_bytes(name.encode())
    assert (export / name).read_bytes() == name.encode()
    assert name in os.listdir(mountpoint)


def unmount_and_wait_for_daemon(registry, command, mountpoint):
    assert len(daemons_of(mountpoint)) == 1, daemons_of(mountpoint)
    result = registry.run(command, timeout=15)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    assert not harness.is_mounted(mountpoint)
    assert wait_until(lambda: not daemons_of(mountpoint), 10), f"the daemon outlived the unmount: {daemons_of(mountpoint)}"


def test_background_mode_returns_once_usable_and_fusermount_ends_it(run_pohmelfs, registry, server, tmp_path,
                                                                     background):
    mountpoint = background.add(tmp_path / "mnt")
    mountpoint.mkdir()
    result, elapsed = run_mount(run_pohmelfs, server.address, mountpoint)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
    # Usable the moment the command returned: no polling here.
    check_usable(mountpoint, server.export, "written-at-once")
    assert mounts_entry(mountpoint)[1] == "fuse.pohmelfs"
    unmount_and_wait_for_daemon(registry, ["fusermount3", "-u", str(mountpoint)], mountpoint)


@pytest.fixture
def mount_helper():
    """/sbin/mount.fuse.pohmelfs from packaging/, installed for the test if it is absent."""
    target = Path("/sbin/mount.fuse.pohmelfs")
    installed = False
    if not target.exists():
        shutil.copyfile(REPO_ROOT / "packaging" / "mount.fuse.pohmelfs", target)
        target.chmod(0o755)
        installed = True
    try:
        yield target
    finally:
        if installed:
            target.unlink(missing_ok=True)


@pytest.mark.timeout_seconds(90)
def test_mount_t_fuse_pohmelfs_and_an_fstab_line(registry, server, tmp_path, pohmelfs_bin, mount_helper, background):
    if shutil.which("mount") is None:
        pytest.skip("mount(8) is not installed")
    env = dict(os.environ, POHMELFS_BIN=str(pohmelfs_bin))
    source = f"127.0.0.1:{server.port}:/"
    mountpoint = background.add(tmp_path / "mnt")
    mountpoint.mkdir()

    result = registry.run(["mount", "-t", "fuse.pohmelfs", source, str(mountpoint),
                           "-o", "_netdev,nofail,x-systemd.automount,noatime"], env=env, timeout=20)
    assert result.returncode == 0, f"mount -t fuse.pohmelfs failed: {result.stderr}"
    check_usable(mountpoint, server.export, "via-mount-t")
    assert mounts_entry(mountpoint)[1] == "fuse.pohmelfs"
    assert "noatime" in mounts_entry(mountpoint)[2]
    unmount_and_wait_for_daemon(registry, ["umount", str(mountpoint)], mountpoint)

    fstab = tmp_path / "fstab"
    fstab.write_text(f"# test fstab\n{source} {mountpoint} fuse.pohmelfs _netdev,nofail,noauto,x-systemd.automount 0 0\n")
    result = registry.run(["mount", "-T", str(fstab), str(mountpoint)], env=env, timeout=20)
    assert result.returncode == 0, f"mount -T fstab failed: {result.stderr}"
    check_usable(mountpoint, server.export, "via-fstab")
    assert mounts_entry(mountpoint)[1] == "fuse.pohmelfs"
    unmount_and_wait_for_daemon(registry, ["umount", str(mountpoint)], mountpoint)
