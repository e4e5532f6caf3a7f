"""POSIX, OFD and flock locks across clients: every lock is the server's, so a lock taken through
one mount is seen, waited for and reported through another (ConsistencyContract "POSIX locks").

Each client's processes are `lock_agent.py` agents, driven one JSON command at a time, so a
test can hold a lock in one process while another blocks.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import time

import pytest

from lock_agent import agent_factory  # noqa: F401  (a fixture)

# Errno names as the agent reports them (errno.errorcode picks one name for aliased numbers).
EAGAIN = errno.errorcode[errno.EAGAIN]
EWOULDBLOCK = errno.errorcode[errno.EWOULDBLOCK]
EDEADLK = errno.errorcode[errno.EDEADLK]
EINTR = errno.errorcode[errno.EINTR]


def poll(condition, timeout: float, interval: float = 0.05):
    """Calls `condition()` until it returns something truthy (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result or None
        time.sleep(interval)


def lock_table(run_pohmelfs, server) -> list[dict]:
    result = run_pohmelfs("locks", server.address, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["locks"]


@pytest.fixture
def two_mounts(server_factory, mount_factory):
    """One server, mounts A and B, and a file `f` (1000 bytes) written through A."""
    server = server_factory()
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 1000)
    return server, a, b


def test_setlk_on_another_mount_fails_with_eagain(two_mounts, agent_factory):
    server, a, b = two_mounts
    holder, other = agent_factory("A"), agent_factory("B")
    fa, fb = holder.open(a.mountpoint / "f"), other.open(b.mountpoint / "f")
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 100)["ok"]
    for type, start, length in [("write", 50, 10), ("read", 99, 1), ("write", 0, 0)]:
        answer = other.fcntl(fb, "F_SETLK", type, start, length)
        assert not answer["ok"] and answer["errno"] == EAGAIN, (type, start, length, answer)
    # Range locks: the bytes after the held range are free, and read locks share.
    assert other.fcntl(fb, "F_SETLK", "write", 100, 10)["ok"]
    assert holder.fcntl(fa, "F_SETLK", "read", 0, 100)["ok"]  # downgrade
    assert other.fcntl(fb, "F_SETLK", "read", 0, 100)["ok"]
    assert other.fcntl(fb, "F_SETLK", "write", 0, 1)["errno"] == EAGAIN


def test_setlkw_on_another_mount_waits_until_the_holder_releases(two_mounts, agent_factory):
    server, a, b = two_mounts
    holder, waiter = agent_factory("A"), agent_factory("B")
    fa, fb = holder.open(a.mountpoint / "f"), waiter.open(b.mountpoint / "f")
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 10)["ok"]
    waiter.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 5, "len": 10})
    assert waiter.silent_for(1.0), "F_SETLKW returned while the conflicting lock was still held"
    released = time.monotonic()
    assert holder.fcntl(fa, "F_SETLK", "unlock", 0, 10)["ok"]
    answer = waiter.answer(timeout=5)
    granted_after = time.monotonic() - released
    assert answer["ok"], answer
    assert answer["elapsed"] >= 1.0, f"F_SETLKW returned after {answer['elapsed']:.2f} s: it did not wait"
    assert granted_after < 3, f"granted {granted_after:.2f} s after the release"
    # Now B holds it: A is the one refused.
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 10)["errno"] == EAGAIN


def test_getlk_on_another_mount_names_the_holder(two_mounts, agent_factory):
    server, a, b = two_mounts
    holder, other = agent_factory("A"), agent_factory("B")
    fa, fb = holder.open(a.mountpoint / "f"), other.open(b.mountpoint / "f")
    assert holder.fcntl(fa, "F_SETLK", "write", 10, 20)["ok"]
    conflict = other.getlk(fb, "write", 0, 0)
    assert (conflict["type"], conflict["start"], conflict["len"], conflict["pid"]) == ("write", 10, 20, holder.pid)
    assert other.getlk(fb, "read", 30, 0)["type"] == "unlock"  # past the lock: nothing in the way
    # A read lock conflicts with a write request but not with a read request.
    assert holder.fcntl(fa, "F_SETLK", "read", 10, 20)["ok"]
    conflict = other.getlk(fb, "write", 0, 0)
    assert (conflict["type"], conflict["start"], conflict["len"], conflict["pid"]) == ("read", 10, 20, holder.pid)
    assert other.getlk(fb, "read", 0, 0)["type"] == "unlock"
    # A lock to end of file comes back with l_len 0.
    assert holder.fcntl(fa, "F_SETLK", "write", 500, 0)["ok"]
    conflict = other.getlk(fb, "write", 400, 0)
    assert (conflict["type"], conflict["start"], conflict["len"], conflict["pid"]) == ("write", 500, 0, holder.pid)


def test_deadlock_across_two_clients_gives_edeadlk_to_one(two_mounts, agent_factory):
    server, a, b = two_mounts
    first, second = agent_factory("A"), agent_factory("B")
    fa, fb = first.open(a.mountpoint / "f"), second.open(b.mountpoint / "f")
    assert first.fcntl(fa, "F_SETLK", "write", 0, 10)["ok"]      # A holds r1
    assert second.fcntl(fb, "F_SETLK", "write", 100, 10)["ok"]   # B holds r2
    first.send({"op": "fcntl", "fd": fa, "cmd": "F_SETLKW", "type": "write", "start": 100, "len": 10})
    assert first.silent_for(0.5)                                  # A waits for r2
    second.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 0, "len": 10})
    # B asking for r1 would close the cycle: one of the two must be refused with EDEADLK.
    answers = {}
    for name, agent, wait in (("B", second, 3), ("A", first, 1)):
        if not agent.silent_for(wait):
            answers[name] = agent.answer(0)
    refused = [name for name, answer in answers.items() if answer.get("errno") == EDEADLK]
    assert len(refused) == 1, f"expected EDEADLK for exactly one of A and B, got {answers}"
    victim, victim_fd, survivor = (second, fb, first) if refused == ["B"] else (first, fa, second)
    # The refused one backs off; the other is then granted what it waited for.
    assert victim.fcntl(victim_fd, "F_SETLK", "unlock", 0, 0)["ok"]
    answer = survivor.answer(timeout=5)
    assert answer["ok"], answer


def test_signal_interrupts_a_blocked_setlkw_and_the_lock_is_not_granted_to_it(
        server_factory, mount_factory, agent_factory, run_pohmelfs):
    server = server_factory()
    a, b, c = mount_factory(server), mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 100)
    holder, interrupted, later = agent_factory("A"), agent_factory("B"), agent_factory("C")
    fa, fb, fc = holder.open(a.mountpoint / "f"), interrupted.open(b.mountpoint / "f"), later.open(c.mountpoint / "f")
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 0)["ok"]
    # SIGALRM after 1 s, handler installed without SA_RESTART: F_SETLKW must fail with EINTR.
    answer = interrupted.fcntl(fb, "F_SETLKW", "write", 0, 0, alarm=1.0, timeout=10)
    assert answer["errno"] == EINTR, answer
    assert 0.9 <= answer["elapsed"] < 5, answer
    # The server withdrew the waiting request (the client sends CANCEL): no waiter is left.
    def no_waiters():
        return not [lock for lock in lock_table(run_pohmelfs, server) if lock["state"] == "waiting"]
    assert poll(no_waiters, 3), f"a waiter is still queued: {lock_table(run_pohmelfs, server)}"
    # Once the holder lets go, the lock is free for anyone: it was not handed to the
    # interrupted process behind its back.
    assert holder.fcntl(fa, "F_SETLK", "unlock", 0, 0)["ok"]
    time.sleep(0.3)  # a wrongly kept waiter would have been granted by now
    table = lock_table(run_pohmelfs, server)
    assert not [lock for lock in table if lock["pid"] == interrupted.pid], table
    assert later.fcntl(fc, "F_SETLK", "write", 0, 0)["ok"], lock_table(run_pohmelfs, server)
    # And the interrupted process itself is refused now, like anyone else.
    assert interrupted.fcntl(fb, "F_SETLK", "write", 0, 0)["errno"] == EAGAIN


def test_close_of_any_descriptor_and_process_exit_release_posix_locks(two_mounts, agent_factory):
    server, a, b = two_mounts
    holder, other = agent_factory("A"), agent_factory("B")
    fa1, fa2 = holder.open(a.mountpoint / "f"), holder.open(a.mountpoint / "f")
    fb = other.open(b.mountpoint / "f")
    assert holder.fcntl(fa1, "F_SETLK", "write", 0, 0)["ok"]
    assert other.fcntl(fb, "F_SETLK", "write", 0, 0)["errno"] == EAGAIN
    holder.close_fd(fa2)  # POSIX: closing ANY descriptor of the file drops the process's locks
    assert other.fcntl(fb, "F_SETLK", "write", 0, 0)["ok"]
    assert other.fcntl(fb, "F_SETLK", "unlock", 0, 0)["ok"]
    # A process that dies holding a lock loses it (its descriptors are closed on exit).
    assert holder.fcntl(fa1, "F_SETLK", "write", 0, 0)["ok"]
    assert other.fcntl(fb, "F_SETLK", "write", 0, 0)["errno"] == EAGAIN
    os.kill(holder.pid, signal.SIGKILL)
    holder.proc.wait(timeout=5)
    assert poll(lambda: other.fcntl(fb, "F_SETLK", "write", 0, 0)["ok"], 3), "the dead process's lock stayed"


def test_ofd_locks_conflict_across_mounts_and_are_released_on_close(two_mounts, agent_factory):
    server, a, b = two_mounts
    holder, other = agent_factory("A"), agent_factory("B")
    fa, fb = holder.open(a.mountpoint / "f"), other.open(b.mountpoint / "f")
    assert holder.fcntl(fa, "F_OFD_SETLK", "write", 0, 100)["ok"]
    assert other.fcntl(fb, "F_OFD_SETLK", "write", 50, 10)["errno"] == EAGAIN
    assert other.fcntl(fb, "F_OFD_SETLK", "read", 0, 1)["errno"] == EAGAIN
    assert other.fcntl(fb, "F_SETLK", "read", 0, 1)["errno"] == EAGAIN  # OFD and POSIX locks conflict
    conflict = other.getlk(fb, "write", 0, 0, cmd="F_OFD_GETLK")
    assert (conflict["type"], conflict["start"], conflict["len"]) == ("write", 0, 100), conflict
    assert other.fcntl(fb, "F_OFD_SETLK", "write", 100, 10)["ok"]
    # An OFD lock belongs to the open file description: its last close releases it. RELEASE
    # is sent asynchronously after close(2) returns, so poll briefly.
    holder.close_fd(fa)
    assert poll(lambda: other.fcntl(fb, "F_OFD_SETLK", "write", 0, 100)["ok"], 3), "the OFD lock outlived its close"


def test_ofd_lock_survives_the_close_of_another_descriptor(two_mounts, agent_factory):
    """Unlike a POSIX lock, an OFD lock does not go when the process closes some other
    descriptor of the file."""
    server, a, b = two_mounts
    holder, other = agent_factory("A"), agent_factory("B")
    fa1, fa2 = holder.open(a.mountpoint / "f"), holder.open(a.mountpoint / "f")
    fb = other.open(b.mountpoint / "f")
    assert holder.fcntl(fa1, "F_OFD_SETLK", "write", 0, 0)["ok"]
    holder.close_fd(fa2)
    time.sleep(0.5)
    assert other.fcntl(fb, "F_OFD_SETLK", "write", 0, 0)["errno"] == EAGAIN


def test_flock_across_mounts(two_mounts, agent_factory):
    server, a, b = two_mounts
    holder, other = agent_factory("A"), agent_factory("B")
    fa, fb = holder.open(a.mountpoint / "f"), other.open(b.mountpoint / "f")
    assert holder.flock(fa, "ex")["ok"]
    answer = other.flock(fb, "ex", nb=True)
    assert answer["errno"] == EWOULDBLOCK, answer
    assert other.flock(fb, "sh", nb=True)["errno"] == EWOULDBLOCK
    # flock and fcntl locks ignore each other, as on Linux.
    assert other.fcntl(fb, "F_SETLK", "write", 0, 0)["ok"]
    assert other.fcntl(fb, "F_SETLK", "unlock", 0, 0)["ok"]
    # Shared flocks share; an exclusive one waits for them.
    assert holder.flock(fa, "sh")["ok"]
    assert other.flock(fb, "sh", nb=True)["ok"]
    assert other.flock(fb, "un")["ok"]
    # A blocking LOCK_EX waits until the holder's lock goes with its close.
    other.send({"op": "flock", "fd": fb, "how": "ex", "nb": False})
    assert other.silent_for(0.8), "LOCK_EX returned while a conflicting flock was held"
    holder.close_fd(fa)
    answer = other.answer(timeout=5)
    assert answer["ok"] and answer["elapsed"] >= 0.8, answer
    # And the lock B now holds goes with B's close too.
    fa = holder.open(a.mountpoint / "f")
    assert holder.flock(fa, "ex", nb=True)["errno"] == EWOULDBLOCK
    other.close_fd(fb)
    assert poll(lambda: holder.flock(fa, "ex", nb=True)["ok"], 3), "the flock lock outlived its close"


LEASE = 2.0


@pytest.mark.timeout_seconds(60)
def test_a_killed_client_loses_its_locks_after_the_lease(server_factory, mount_factory, agent_factory, run_pohmelfs):
    server = server_factory(args=("--lock-lease", str(LEASE)))
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 100)
    holder, other = agent_factory("A"), agent_factory("B")
    fa, fb = holder.open(a.mountpoint / "f"), other.open(b.mountpoint / "f")
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 0)["ok"]
    assert holder.flock(fa, "ex")["ok"]
    assert other.fcntl(fb, "F_SETLK", "write", 0, 0)["errno"] == EAGAIN
    # The client (the `pohmelfs mount` process), not the holder, dies: nothing is closed or
    # unlocked, the connection just drops. The holder process lives on.
    os.kill(a.proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    a.proc.wait(timeout=5)
    outcomes = []
    while time.monotonic() - killed < LEASE + 5:
        answer = other.fcntl(fb, "F_SETLK", "write", 0, 0)
        outcomes.append((round(time.monotonic() - killed, 2), answer.get("errno", "ok")))
        if answer["ok"]:
            break
        assert answer["errno"] == EAGAIN, answer
        time.sleep(0.1)
    granted = time.monotonic() - killed
    print(f"lease {LEASE} s: the lock of the killed client was granted to the other after {granted:.2f} s")
    assert outcomes[-1][1] == "ok", f"not granted within lease + 5 s: {outcomes[-5:]}"
    assert granted >= LEASE - 0.5, f"granted after {granted:.2f} s, before the {LEASE} s lease ran out: {outcomes}"
    assert other.flock(fb, "ex", nb=True)["ok"]  # its flock lock went too
    assert holder.proc.poll() is None
    table = lock_table(run_pohmelfs, server)
    assert {lock["pid"] for lock in table} == {other.pid}, table


def test_a_killed_clients_waiting_request_is_withdrawn_at_once(
        server_factory, mount_factory, agent_factory, run_pohmelfs):
    """The locks of a vanished client wait for its lease; its blocked requests do not: they would
    otherwise hold back everyone queued or arriving behind them (FIFO)."""
    server = server_factory(args=("--lock-lease", "30"))
    a, b, c = mount_factory(server), mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 100)
    holder, waiter, later = agent_factory("A"), agent_factory("B"), agent_factory("C")
    fa, fb, fc = holder.open(a.mountpoint / "f"), waiter.open(b.mountpoint / "f"), later.open(c.mountpoint / "f")
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 0)["ok"]
    waiter.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 0, "len": 0})
    assert waiter.silent_for(0.5)
    assert poll(lambda: [l for l in lock_table(run_pohmelfs, server) if l["state"] == "waiting"], 3)
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait(timeout=5)
    # The blocked process is let go by its dead client's kernel connection, not granted anything.
    answer = waiter.answer(timeout=5)
    assert not answer["ok"], answer
    assert poll(lambda: not [l for l in lock_table(run_pohmelfs, server) if l["state"] == "waiting"], 3), (
        lock_table(run_pohmelfs, server))
    assert holder.fcntl(fa, "F_SETLK", "unlock", 0, 0)["ok"]
    assert later.fcntl(fc, "F_SETLK", "write", 0, 0)["ok"], lock_table(run_pohmelfs, server)


@pytest.mark.parametrize("how", ["fcntl", "flock"])
def test_taking_a_lock_drops_stale_cached_pages(two_mounts, how):
    """Locking is a cache coherency point (as on NFS): after B takes a lock, B reads what A wrote
    before it, even though B's kernel cached the old pages moments ago (well inside the 1 s
    attribute timeout that would otherwise let them live on). SQLite on two mounts needs this."""
    server, a, b = two_mounts
    path_a, path_b = a.mountpoint / "cached", b.mountpoint / "cached"
    path_a.write_bytes(b"old!" * 4096)
    fd_b = os.open(path_b, os.O_RDWR)
    fd_a = os.open(path_a, os.O_RDWR)
    try:
        assert os.pread(fd_b, 16384, 0) == b"old!" * 4096  # now in B's page cache
        assert os.pwrite(fd_a, b"new!" * 1024, 4096) == 4096  # same size: only the pages differ
        if how == "fcntl":
            fcntl.lockf(fd_b, fcntl.LOCK_SH)
        else:
            fcntl.flock(fd_b, fcntl.LOCK_SH)
        assert os.pread(fd_b, 16384, 0) == b"old!" * 1024 + b"new!" * 1024 + b"old!" * 2048, (
            "B read stale cached pages after taking a lock")
    finally:
        os.close(fd_a)
        os.close(fd_b)


def test_a_waiting_writer_holds_back_later_readers_across_clients(server_factory, mount_factory, agent_factory):
    """FIFO-fair waiting (ConsistencyContract): once B waits for a write lock behind A's read
    lock, C's read lock on another mount waits its turn too, or a stream of readers could
    starve the writer. F_GETLK tells C what it would stumble on: B's queued request."""
    server = server_factory()
    a, b, c = mount_factory(server), mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 100)
    reader, writer, late = agent_factory("A"), agent_factory("B"), agent_factory("C")
    fa, fb, fc = reader.open(a.mountpoint / "f"), writer.open(b.mountpoint / "f"), late.open(c.mountpoint / "f")
    assert reader.fcntl(fa, "F_SETLK", "read", 0, 0)["ok"]
    assert late.fcntl(fc, "F_SETLK", "read", 0, 0)["ok"]  # readers share while nobody waits
    assert late.fcntl(fc, "F_SETLK", "unlock", 0, 0)["ok"]
    writer.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 0, "len": 0})
    assert writer.silent_for(0.5)
    assert late.fcntl(fc, "F_SETLK", "read", 0, 0)["errno"] == EAGAIN
    conflict = late.getlk(fc, "read", 0, 0)
    assert (conflict["type"], conflict["pid"]) == ("write", writer.pid), conflict
    assert reader.fcntl(fa, "F_SETLK", "unlock", 0, 0)["ok"]
    assert writer.answer(timeout=5)["ok"]
    assert late.fcntl(fc, "F_SETLK", "read", 0, 0)["errno"] == EAGAIN
    assert writer.fcntl(fb, "F_SETLK", "unlock", 0, 0)["ok"]
    assert late.fcntl(fc, "F_SETLK", "read", 0, 0)["ok"]


@pytest.mark.timeout_seconds(90)
def test_a_signal_racing_the_grant_never_leaves_a_lock_to_an_interrupted_process(
        server_factory, mount_factory, agent_factory):
    """The holder releases at about the moment the waiter's SIGALRM fires, many times over.
    Whichever wins, the outcome must be consistent: a waiter told EINTR holds nothing (another
    client gets the lock, after at most a brief moment for the CANCEL to land), and a waiter
    told it succeeded holds the lock."""
    server = server_factory()
    a, b, c = mount_factory(server), mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 100)
    holder, waiter, probe = agent_factory("A"), agent_factory("B"), agent_factory("C")
    fa, fb, fc = holder.open(a.mountpoint / "f"), waiter.open(b.mountpoint / "f"), probe.open(c.mountpoint / "f")
    outcomes = {"ok": 0, EINTR: 0}
    rounds = 40
    for i in range(rounds):
        assert holder.fcntl(fa, "F_SETLK", "write", 0, 0)["ok"]
        alarm = 0.15
        waiter.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 0, "len": 0,
                     "alarm": alarm})
        time.sleep(alarm - 0.01 + (i % 5) * 0.005)  # release from 10 ms before to 10 ms after the alarm
        assert holder.fcntl(fa, "F_SETLK", "unlock", 0, 0)["ok"]
        answer = waiter.answer(timeout=10)
        result = "ok" if answer["ok"] else answer["errno"]
        assert result in outcomes, answer
        outcomes[result] += 1
        if result == "ok":
            assert probe.fcntl(fc, "F_SETLK", "write", 0, 0)["errno"] == EAGAIN, f"round {i}: granted but not held"
            assert waiter.fcntl(fb, "F_SETLK", "unlock", 0, 0)["ok"]
        else:
            got = poll(lambda: probe.fcntl(fc, "F_SETLK", "write", 0, 0)["ok"], 2)
            assert got, f"round {i}: the waiter was told EINTR but the lock stayed taken"
        assert probe.fcntl(fc, "F_SETLK", "unlock", 0, 0)["ok"]
    print(f"signal/grant race over {rounds} rounds: {outcomes}")
