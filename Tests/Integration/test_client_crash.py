"""How a mount ends: a client killed with SIGKILL leaves a dead mountpoint that answers
ENOTCONN (never hangs) and that `fusermount3 -u` clears; SIGTERM, SIGINT and SIGHUP unmount cleanly
with exit status 0; READY=1 means the mount answers at once."""

import errno
import os
import signal
import stat
import threading
import time

import pytest

import harness
from posix_helpers import expect_errno

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")


def assert_dead_mountpoint_answers_enotconn(mountpoint):
    started = time.monotonic()
    expect_errno(errno.ENOTCONN, os.stat, mountpoint)
    expect_errno(errno.ENOTCONN, os.listdir, mountpoint)
    expect_errno(errno.ENOTCONN, os.open, mountpoint / "file", os.O_RDONLY)
    expect_errno(errno.ENOTCONN, os.open, mountpoint / "new", os.O_CREAT | os.O_WRONLY, 0o644)
    assert time.monotonic() - started < 5, "calls on a dead mountpoint were slow to fail"


def fusermount_u(registry, mountpoint):
    started = time.monotonic()
    result = registry.run(["fusermount3", "-u", str(mountpoint)], timeout=10)
    assert result.returncode == 0, f"fusermount3 -u failed: {result.stderr}"
    assert time.monotonic() - started < 5
    assert not harness.is_mounted(mountpoint)


@pytest.mark.timeout_seconds(60)
def test_sigkill_leaves_a_mountpoint_that_fusermount_clears(server, mount_factory, registry):
    mount = mount_factory(server)
    (mount.mountpoint / "file").write_bytes(b"before the crash")
    mount.proc.kill()
    assert mount.proc.wait(timeout=5) == -signal.SIGKILL
    assert harness.is_mounted(mount.mountpoint)  # the kernel still has the mount...
    assert_dead_mountpoint_answers_enotconn(mount.mountpoint)  # ...but it answers at once
    fusermount_u(registry, mount.mountpoint)
    assert os.listdir(mount.mountpoint) == []  # the plain directory again
    # The data reached the server before the crash, and the mountpoint can be used again.
    assert (server.export / "file").read_bytes() == b"before the crash"
    again = mount_factory(server, mountpoint=mount.mountpoint)
    assert (again.mountpoint / "file").read_bytes() == b"before the crash"


@pytest.mark.timeout_seconds(60)
def test_sigkill_during_io_fails_the_io_and_fusermount_still_clears(server, mount_factory, registry):
    mount = mount_factory(server)
    path = mount.mountpoint / "busy"
    outcome = {}
    writing = threading.Event()

    def writer():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
        try:
            chunk = b"w" * (256 << 10)
            while True:
                os.pwrite(fd, chunk, 0)
                writing.set()
        except OSError as e:
            outcome["errno"] = e.errno
        finally:
            try:
                os.close(fd)
            except OSError as e:
                outcome["close"] = e.errno

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert writing.wait(10), "the writer never got going"
    mount.proc.kill()
    mount.proc.wait(timeout=5)
    thread.join(timeout=10)
    assert not thread.is_alive(), "a write on a dead mount hung"
    assert outcome.get("errno") in (errno.ENOTCONN, errno.ECONNABORTED), outcome
    assert_dead_mountpoint_answers_enotconn(mount.mountpoint)
    fusermount_u(registry, mount.mountpoint)


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_unmounts_cleanly_and_exits_0(mount, signal_number):
    (mount.mountpoint / "file").write_bytes(b"kept")
    mount.proc.send_signal(signal_number)
    assert mount.proc.wait(timeout=10) == 0, mount.log_text()
    assert not harness.is_mounted(mount.mountpoint)
    assert "STOPPING=1" in mount.notify.assignments()
    assert os.listdir(mount.mountpoint) == []
    assert (mount.server.export / "file").read_bytes() == b"kept"


def test_sigterm_with_a_file_open_still_exits_0(mount):
    fd = os.open(mount.mountpoint / "open", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"open during shutdown")
        mount.proc.send_signal(signal.SIGTERM)
        assert mount.proc.wait(timeout=10) == 0, mount.log_text()
        assert not harness.is_mounted(mount.mountpoint)
        # The descriptor outlived its mount: it fails, it does not hang.
        with pytest.raises(OSError) as failure:
            os.pread(fd, 10, 0)
        assert failure.value.errno in (errno.ENOTCONN, errno.ECONNABORTED, errno.EIO)
    finally:
        try:
            os.close(fd)  # the FLUSH it sends may fail; the descriptor is closed either way
        except OSError:
            pass
    assert (mount.server.export / "open").read_bytes() == b"open during shutdown"


def test_ready_means_the_mount_answers_at_once(server, mount_factory):
    for _ in range(3):
        mount = mount_factory(server)
        # mount_factory returns as soon as READY=1 arrived and the kernel lists the mount.
        started = time.monotonic()
        st = os.stat(mount.mountpoint)
        assert stat.S_ISDIR(st.st_mode) and st.st_dev == mount.device
        assert os.listdir(mount.mountpoint) is not None
        os.statvfs(mount.mountpoint)
        assert time.monotonic() - started < 2
        ready_index = mount.notify.assignments().index("READY=1")
        assert all(not line.startswith("STOPPING") for line in mount.notify.assignments()[:ready_index])
        mount.unmount()
        assert mount.status == 0
