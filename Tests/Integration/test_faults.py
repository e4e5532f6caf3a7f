"""Surviving faults (issue 7): a server killed and restarted during a copy, replies lost so the
client resends, a soft mount whose server is gone, a full export. Nothing acknowledged is lost,
nothing is applied twice, nothing hangs."""

import errno
import json
import os
import random
import re
import subprocess
import time

import pytest

import harness
from harness import wait_until
from payloads import sha256_of, write_random_file
from lock_agent import agent_factory  # noqa: F401  (a fixture)

EAGAIN = errno.errorcode[errno.EAGAIN]
EWOULDBLOCK = errno.errorcode[errno.EWOULDBLOCK]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")


def lock_table(run_pohmelfs, server):
    result = run_pohmelfs("locks", server.address, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["locks"]


def file_size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


# (a) SIGKILL the server in the middle of a copy -------------------------------------------------

COPY_SIZE = 512 << 20
ROUNDS = 5
FIRST_ANSWER = "first request answered after reconnecting"


@pytest.mark.timeout_seconds(900)
def test_a_copy_survives_the_server_being_killed_and_restarted(server_factory, mount_factory, registry, tmp_path):
    """Five times: SIGKILL the server at a random point of a 512 MiB copy into the mount, start it
    again 2 s later (same port, export and state directory). The copy finishes without an error
    and the file is intact. Prints the reconnect timeline: from the restarted server's READY=1 to
    the first request the client has answered again."""
    server = server_factory()
    mount = mount_factory(server)
    original = tmp_path / "original"
    want = write_random_file(original, COPY_SIZE)
    rng = random.Random()
    timeline = []
    try:
        for round_number in range(ROUNDS):
            name = f"copy-{round_number}"
            on_server = server.export / name
            answers_before = mount.log_text().count(FIRST_ANSWER)
            copy = registry.spawn(["cp", original, mount.mountpoint / name], log=tmp_path / f"cp-{round_number}.log",
                                  label=f"cp round {round_number}")
            # A random point of the copy: once the server has this much of the file.
            kill_at = rng.randrange(COPY_SIZE // 10, COPY_SIZE * 8 // 10)
            assert wait_until(lambda: file_size(on_server) >= kill_at or copy.poll() is not None, 120), (
                "the copy made no progress")
            assert copy.poll() is None, f"round {round_number}: the copy ended before the kill point"
            server.crash()
            killed = time.monotonic()
            time.sleep(2)
            server = server_factory(export=server.export, state_dir=server.state_dir, port=server.port)
            ready = time.monotonic()
            assert wait_until(lambda: mount.log_text().count(FIRST_ANSWER) > answers_before, 60), (
                f"round {round_number}: the client never got an answer from the restarted server")
            answered = time.monotonic()
            reported = [re.search(r"ms=(\d+)", line) for line in mount.log_text().splitlines() if FIRST_ANSWER in line]
            reported = [match.group(1) for match in reported if match]
            timeline.append((kill_at >> 20, ready - killed, answered - ready, int(reported[-1]) if reported else -1))
            assert copy.wait(timeout=300) == 0, (
                f"round {round_number}: cp failed: {harness.read_log(tmp_path / f'cp-{round_number}.log')}")
            assert file_size(on_server) == COPY_SIZE
            assert sha256_of(on_server) == want, f"round {round_number}: the server's copy differs"
            assert sha256_of(mount.mountpoint / name) == want, f"round {round_number}: the copy read back differs"
            os.unlink(mount.mountpoint / name)
    finally:
        original.unlink(missing_ok=True)
    for round_number, (mib, down, first, reported) in enumerate(timeline):
        print(f"round {round_number}: killed at {mib} MiB; restarted server ready {down:.2f} s after the kill; "
              f"first request answered {first * 1000:.0f} ms after READY=1 "
              f"(client: {reported} ms after its new connection)")
    print(f"reconnect timeline, READY=1 -> first answered request: "
          f"max {max(t[2] for t in timeline) * 1000:.0f} ms, "
          f"mean {sum(t[2] for t in timeline) / len(timeline) * 1000:.0f} ms over {len(timeline)} restarts")


# (b) Exactly once --------------------------------------------------------------------------------


@pytest.mark.timeout_seconds(120)
def test_rename_append_and_exclusive_create_are_applied_once_when_their_replies_are_lost(
        server_factory, mount_factory):
    """The server performs the first CREATE, APPEND (the O_APPEND write) and RENAME but drops each
    reply and closes the connection; the client reconnects, resumes its session and resends; the
    reply cache answers, so the line is appended once."""
    server = server_factory(args=("--test-drop-reply-once", "CREATE,APPEND,RENAME"))
    mount = mount_factory(server, "cache=none")
    path = mount.mountpoint / "log"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND, 0o644)
    try:
        assert os.write(fd, b"one line\n") == 9
    finally:
        os.close(fd)
    os.rename(path, mount.mountpoint / "renamed")
    assert (server.export / "renamed").read_bytes() == b"one line\n"
    assert not (server.export / "log").exists()
    server_log = server.log_text()
    assert server_log.count("test fault: dropping the reply") == 3, server_log
    assert mount.log_text().count("session resumed") >= 3, mount.log_text()
    assert os.listdir(mount.mountpoint) == ["renamed"]


# (c) A soft mount whose server is gone -------------------------------------------------------------

SOFT_TIMEOUT = 2


@pytest.mark.timeout_seconds(60)
def test_a_soft_mount_answers_eio_once_its_server_is_gone(server_factory, mount_factory, registry):
    server = server_factory()
    mount = mount_factory(server, f"soft,timeout={SOFT_TIMEOUT}")
    (mount.mountpoint / "kept").write_bytes(b"x")
    server.crash()
    started = time.monotonic()
    with pytest.raises(OSError) as failure:
        os.stat(mount.mountpoint / "never-looked-up")  # a LOOKUP the kernel cannot answer itself
    elapsed = time.monotonic() - started
    assert failure.value.errno == errno.EIO, failure.value
    print(f"soft mount, timeout={SOFT_TIMEOUT}: EIO after {elapsed:.2f} s")
    assert elapsed < SOFT_TIMEOUT + 2, f"EIO took {elapsed:.2f} s"
    # Nothing hangs: another call fails too, and the mount goes away cleanly.
    with pytest.raises(OSError):
        os.listdir(mount.mountpoint / "another")
    result = registry.run(["fusermount3", "-u", "-z", str(mount.mountpoint)], timeout=10)
    assert result.returncode == 0, result.stderr
    assert mount.unmount() is not None


@pytest.mark.timeout_seconds(60)
def test_a_hard_mount_waits_and_a_signal_interrupts_the_waiting_call(server_factory, mount_factory, registry):
    """Hard (the default): a request waits for the server; SIGINT still ends the waiting process,
    and lazy unmount works meanwhile."""
    server = server_factory()
    mount = mount_factory(server)
    server.crash()
    waiter = registry.spawn(["stat", mount.mountpoint / "absent"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    assert waiter.poll() is None, "a hard mount gave up without a server"
    waiter.send_signal(2)  # SIGINT
    assert waiter.wait(timeout=10) != 0
    result = registry.run(["fusermount3", "-u", "-z", str(mount.mountpoint)], timeout=10)
    assert result.returncode == 0, result.stderr
    mount.unmount()


# (d) A full export ---------------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmpfs_factory):
    """A 16 MiB tmpfs, unmounted whatever happens."""
    return tmpfs_factory("small", "16M")


@pytest.mark.timeout_seconds(120)
@pytest.mark.parametrize("options", ["", "cache=none"])
def test_a_full_export_reports_enospc_and_keeps_what_was_synced(server_factory, mount_factory, small_tmpfs, options):
    export = small_tmpfs / "export"
    server = server_factory(export=export)
    mount = mount_factory(server, options)
    kept = os.urandom(4 << 20)
    with open(mount.mountpoint / "kept", "wb") as f:
        f.write(kept)
        f.flush()
        os.fsync(f.fileno())
    errors = []
    fd = os.open(mount.mountpoint / "filler", os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        chunk = os.urandom(1 << 20)
        for _ in range(64):
            try:
                os.write(fd, chunk)
            except OSError as e:
                errors.append(("write", e.errno))
                break
        try:
            os.fsync(fd)
        except OSError as e:
            errors.append(("fsync", e.errno))
    finally:
        try:
            os.close(fd)
        except OSError as e:
            errors.append(("close", e.errno))
    assert errors, "32 MiB went into a 16 MiB export without an error"
    assert errors[0][1] == errno.ENOSPC, errors
    assert (mount.mountpoint / "kept").read_bytes() == kept
    assert (export / "kept").read_bytes() == kept


# (e) Locks across a server restart ---------------------------------------------------------------

GRACE = 5


@pytest.mark.timeout_seconds(90)
def test_locks_are_reclaimed_by_their_holders_after_a_restart(server_factory, mount_factory, agent_factory,
                                                                run_pohmelfs):
    """A holds an fcntl lock and a flock lock when the server is killed. The restarted server
    gives A's client a grace period to reclaim them; B gets neither during it, nor after (A still
    holds them); once A unlocks, B's blocked request is granted."""
    server = server_factory(args=("--grace-period", str(GRACE)))
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 100)
    (a.mountpoint / "g").write_bytes(b"y" * 100)
    holder, other = agent_factory("A"), agent_factory("B")
    fa, ga = holder.open(a.mountpoint / "f"), holder.open(a.mountpoint / "g")
    fb, gb = other.open(b.mountpoint / "f"), other.open(b.mountpoint / "g")
    assert holder.fcntl(fa, "F_SETLK", "write", 10, 20)["ok"]
    assert holder.flock(ga, "ex")["ok"]
    server.crash()
    time.sleep(1)
    server = server_factory(export=server.export, state_dir=server.state_dir, port=server.port,
                            args=("--grace-period", str(GRACE)))
    assert "grace period" in server.log_text()
    restarted = time.monotonic()
    expected = sorted([("posix", 10, 29), ("flock", 0, None)], key=str)

    def held():
        table = lock_table(run_pohmelfs, server)
        return sorted(((lock["kind"], lock["start"], lock["end"]) for lock in table if lock["state"] == "held"),
                      key=str)

    # A's client reconnects on its own (backoff) and reclaims both locks.
    assert wait_until(lambda: held() == expected, GRACE, step=0.1), held()
    # B, during the grace period: nothing new, not even a lock nobody holds.
    assert other.fcntl(fb, "F_SETLK", "read", 50, 10)["errno"] == EAGAIN
    assert other.fcntl(fb, "F_SETLK", "write", 0, 0)["errno"] == EAGAIN
    assert other.flock(gb, "ex", nb=True)["errno"] in (EAGAIN, EWOULDBLOCK)
    assert time.monotonic() - restarted < GRACE, "the checks above did not run inside the grace period"
    # After it: A's reclaimed locks still stand; a lock nobody holds is granted.
    time.sleep(max(0.0, GRACE + 0.5 - (time.monotonic() - restarted)))
    assert other.fcntl(fb, "F_SETLK", "write", 0, 0)["errno"] == EAGAIN
    assert other.flock(gb, "ex", nb=True)["errno"] in (EAGAIN, EWOULDBLOCK)
    assert other.fcntl(fb, "F_SETLK", "read", 50, 10)["ok"]
    other.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 10, "len": 20, "alarm": 0})
    assert other.silent_for(0.5)
    assert holder.fcntl(fa, "F_SETLK", "unlock", 10, 20)["ok"]
    assert other.answer(timeout=10)["ok"]
