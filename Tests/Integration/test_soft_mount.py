"""A soft mount keeps its word (issue 15, item 7): with `soft,timeout=T` and a server that stops
answering (SIGSTOP: the connection stays up, nothing comes back), every call returns EIO within
about T of the server going silent — not T per call in a row, and not after the 20 s heartbeat."""

import errno
import os
import signal
import time

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

SOFT_TIMEOUT = 2
# The bound (ConsistencyContract, "Faults") is T plus the client's 100 ms check; allow a loaded
# machine a margin.
SLACK = 2.5


def timed(call):
    started = time.monotonic()
    try:
        call()
        outcome = None
    except OSError as error:
        outcome = error.errno
    return outcome, time.monotonic() - started


@pytest.mark.timeout_seconds(60)
def test_write_fsync_and_close_each_fail_within_the_timeout_of_a_silent_server(server_factory, mount_factory):
    server = server_factory()
    mount = mount_factory(server, f"soft,timeout={SOFT_TIMEOUT}")
    path = mount.mountpoint / "copy"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"before")
    os.fsync(fd)
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        results = {
            "write": timed(lambda: os.write(fd, b"x" * (1 << 20))),
            "fsync": timed(lambda: os.fsync(fd)),
            "close": timed(lambda: os.close(fd)),
        }
        total = time.monotonic() - stopped
        print(f"soft,timeout={SOFT_TIMEOUT} with the server stopped: {results}, {total:.2f} s in all")
        for call, (_, elapsed) in results.items():
            assert elapsed < SOFT_TIMEOUT + SLACK, f"{call} took {elapsed:.2f} s: {results}"
        assert total < SOFT_TIMEOUT + SLACK, f"the calls took {total:.2f} s together: {results}"
        assert errno.EIO in [outcome for outcome, _ in results.values()], results
        # A lookup the kernel cannot answer itself fails at once too, while the server is silent.
        outcome, elapsed = timed(lambda: os.stat(mount.mountpoint / "never-looked-up"))
        assert outcome == errno.EIO and elapsed < SLACK, (outcome, elapsed)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    # The server is back: the mount works again.
    deadline = time.monotonic() + 20
    while True:
        try:
            (mount.mountpoint / "after").write_bytes(b"back")
            break
        except OSError:
            assert time.monotonic() < deadline, "the soft mount never recovered after the server came back"
            time.sleep(0.2)
    assert (server.export / "after").read_bytes() == b"back"
