"""The client reads /dev/fuse on its connection's event loop (`FUSEEventLoopChannel`): the kernel
queues a real-time signal to the loop's thread for each request, the loop reads /dev/fuse until
it is empty. POHMELFS_FUSE_EVENT_LOOP=0 keeps libfuse's loop on a thread of its own.

The hard case is a readiness left empty: a request withdrawn by a fatal signal before the
client read it, an INTERRUPT withdrawn because its request was answered first. A reader that
treats that as impossible stops (NIO asserts in debug builds, which the suite runs); this one
reads EAGAIN and waits for the next signal. The storm below kills readers mid-request and
interrupts others, then checks the mount still answers, with the right bytes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest


def dev_fuse_flags(pid: int) -> list[int]:
    """The open-file flags of each /dev/fuse descriptor of process `pid`."""
    flags = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "/dev/fuse":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                for line in info:
                    if line.startswith("flags:"):
                        flags.append(int(line.split()[1], 8))
        except FileNotFoundError:
            continue
    return flags


@pytest.mark.timeout_seconds(60)
@pytest.mark.parametrize("event_loop", ["1", "0"])
def test_the_reader_is_the_event_loop_unless_told_otherwise(server, mount_factory, event_loop):
    env = dict(os.environ, POHMELFS_FUSE_EVENT_LOOP=event_loop)
    mount = mount_factory(server, env=env)
    content = os.urandom(300_000)
    (mount.mountpoint / "file").write_bytes(content)
    assert (mount.mountpoint / "file").read_bytes() == content
    flags = dev_fuse_flags(mount.proc.pid)
    assert flags, "the client has no /dev/fuse descriptor"
    signalled = any(f & os.O_ASYNC for f in flags)
    assert signalled == (event_loop == "1"), f"/dev/fuse flags {[oct(f) for f in flags]}"


def thread_switches(pid: int) -> dict[int, tuple[str, int]]:
    """Each thread of `pid`: its name and its context switches so far (voluntary and not)."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as comm, open(f"/proc/{pid}/task/{tid}/status") as status:
                name = comm.read().strip()
                switches = sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
        except FileNotFoundError:
            continue
        threads[int(tid)] = (name, switches)
    return threads


def test_a_request_wakes_only_the_event_loop_thread(server, mount_factory):
    """Each request comes as a real-time signal to the loop's thread, and the kernel wakes every
    signalfd of a process for any signal: a Dispatch signal source (libdispatch's manager thread
    watches one) woke once per request for nothing. SIGTERM and friends go through a pipe now."""
    mount = mount_factory(server)
    directory = mount.mountpoint / "many"
    directory.mkdir()
    before = thread_switches(mount.proc.pid)
    count = 2000
    for index in range(count):
        os.close(os.open(directory / f"f{index}", os.O_CREAT | os.O_WRONLY, 0o644))
    after = thread_switches(mount.proc.pid)
    woken = {
        f"{name} ({tid})": switches - before.get(tid, (name, 0))[1]
        for tid, (name, switches) in after.items()
        if not name.startswith("NIO-ELT")
    }
    # A create is at least a CREATE and a RELEASE: about 2 x 2,000 signals. Timers (the write-back
    # timer, the status interval) and a few pool wake-ups are all that other threads may see.
    assert sum(woken.values()) < count // 4, f"threads other than the event loop woke: {woken}"


WORKER = """
import os, signal, sys
signal.signal(signal.SIGUSR1, lambda *_: None)
signal.siginterrupt(signal.SIGUSR1, True)
path = sys.argv[1]
while True:
    os.stat(path)
    with open(path, "rb") as f:
        f.read()
    os.listdir(os.path.dirname(path))
"""


@pytest.mark.timeout_seconds(120)
def test_requests_withdrawn_by_signals_do_not_stop_the_reader(server, mount_factory, registry):
    mount = mount_factory(server, "cache=none")
    content = os.urandom(64 * 1024)
    (mount.mountpoint / "file").write_bytes(content)
    killed = 0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        workers = [
            registry.spawn([sys.executable, "-c", WORKER, str(mount.mountpoint / "file")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(4)
        ]
        time.sleep(0.05)
        for worker in workers:
            # Interrupts first (a request interrupted, then answered), then a fatal signal
            # (a request withdrawn before the client read it).
            for _ in range(20):
                if worker.poll() is None:
                    worker.send_signal(signal.SIGUSR1)
            worker.kill()
        for worker in workers:
            worker.wait(timeout=30)
            killed += 1
        assert mount.proc.poll() is None, f"the client died:\n{mount.log_text()[-3000:]}"
    print(f"{killed} readers killed mid-request")
    # The mount still answers, with the file's bytes.
    assert (mount.mountpoint / "file").read_bytes() == content
    assert stat.S_ISREG(os.stat(mount.mountpoint / "file").st_mode)
    (mount.mountpoint / "after").write_bytes(b"still here")
    assert (mount.mountpoint / "after").read_bytes() == b"still here"
