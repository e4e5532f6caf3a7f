"""What clients leave behind when their connections end badly: a client that holds an fcntl lock
and dies with a TCP reset, or breaks the protocol, loses its lock after the lease like any other
client, and a crowd of such connections leaves the server's descriptors and memory where they
were before (issue 15, item 1)."""

import errno
import fcntl
import os
import struct
import time

import pytest

from raw_protocol import HEADER, MAGIC, VERSION, RawClient

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

LEASE = 1.0


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def resident_megabytes(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def try_lock(path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return True
    except OSError as error:
        assert error.errno in (errno.EAGAIN, errno.EACCES), error
        return False
    finally:
        os.close(fd)


@pytest.mark.parametrize("ending", ["reset", "garbage"])
@pytest.mark.timeout_seconds(40)
def test_a_lock_of_a_client_that_died_is_free_for_a_mount_after_the_lease(server_factory, mount_factory, ending):
    server = server_factory(args=["--lock-lease", str(LEASE)])
    mount = mount_factory(server)
    raw = RawClient(server.port)
    raw.hello("dies-holding-a-lock")
    _, file_id = raw.create("locked")
    raw.lock(file_id)
    path = mount.mountpoint / "locked"
    assert not try_lock(path), "the raw client's lock should hold while it is connected"
    if ending == "reset":
        raw.reset()
    else:
        raw.send_garbage()
        raw.close()
    deadline = time.monotonic() + LEASE + 5
    while not try_lock(path):
        assert time.monotonic() < deadline, f"the lock of a client gone by {ending} was never released"
        time.sleep(0.1)


@pytest.mark.timeout_seconds(60)
def test_aborted_connections_leave_descriptors_and_memory_at_idle(server_factory):
    server = server_factory(args=["--lock-lease", str(LEASE)])
    pid = server.proc.pid
    warm = RawClient(server.port)
    warm.hello("warm-up")
    warm.create("shared")
    warm.close()
    time.sleep(LEASE + 1)
    idle_fds, idle_rss = descriptors(pid), resident_megabytes(pid)
    count = 120
    for index in range(count):
        raw = RawClient(server.port)
        raw.hello(f"aborted-{index}")
        _, file_id = raw.create("shared")
        raw.lock(file_id, start=index, end=index)
        if index % 3 == 0:
            raw.send_garbage()
        elif index % 3 == 1:
            # Half a 1 MiB WRITE: the server has buffered most of a frame when the reset comes.
            raw.sock.sendall(HEADER.pack(MAGIC, VERSION, 0, 15, 99, 0, 1 << 20) + b"\0" * (900 << 10))
        raw.reset()
    deadline = time.monotonic() + LEASE + 10
    while descriptors(pid) > idle_fds + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    after_fds, after_rss = descriptors(pid), resident_megabytes(pid)
    assert after_fds <= idle_fds + 2, (
        f"{count} aborted connections left {after_fds - idle_fds} descriptors behind after the lease")
    # 40 parked 1 MiB frames alone would be 40 MB; allow for allocator slack.
    assert after_rss < idle_rss + 24, (
        f"{count} aborted connections left RSS at {after_rss:.0f} MB (idle {idle_rss:.0f} MB)")
