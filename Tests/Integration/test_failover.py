"""Clients that fail over (issue 19, item 3): a mount naming several servers of one export uses
one; when it dies the client moves to the next, reopens its files, reclaims its locks and
resends what was unanswered. The servers here are two `pohmelfs serve` over one local export
directory sharing one handle key (`--handle-key`), each with its own state directory: the
local store's failover is for a standby, one server serving at a time (docs/OPERATIONS.md)."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import harness
from harness import wait_until
from payloads import sha256_of, write_random_file
from lock_agent import agent_factory  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

# The issue asks for 256 MiB; the suite copies 64 MiB to keep its time small.
COPY_MIB = int(os.environ.get("POHMELFS_FAILOVER_MIB", "64"))
MOVED = "lost; moved to"


def file_size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def pair(server_factory, tmp_path, args=()):
    """Two servers of one export sharing a handle key: (A, B)."""
    key = tmp_path / "handle-key"
    a = server_factory(args=("--handle-key", key, *args))
    b = server_factory(export=a.export, args=("--handle-key", key, *args))
    return a, b


def both(*servers):
    """What `mount_factory` takes for a mount naming several servers."""
    return SimpleNamespace(address=",".join(s.address for s in servers))


@pytest.mark.timeout_seconds(120)
def test_a_copy_through_a_killed_server_finishes_through_the_other(server_factory, mount_factory, registry,
                                                                    tmp_path):
    """SIGKILL server A a quarter into a copy through a mount naming A,B: the copy finishes
    (through B) and the file is intact. Prints the stall: from the kill until the file grows
    again on the shared export."""
    a, b = pair(server_factory, tmp_path)
    mount = mount_factory(both(a, b))
    size = COPY_MIB << 20
    original = tmp_path / "original"
    want = write_random_file(original, size)
    on_export = a.export / "copy"
    copy = registry.spawn(["dd", f"if={original}", f"of={mount.mountpoint / 'copy'}", "bs=1M", "conv=fsync"],
                          log=tmp_path / "dd.log", label="dd")
    try:
        assert wait_until(lambda: file_size(on_export) >= size // 4 or copy.poll() is not None, 60), (
            "the copy made no progress")
        assert copy.poll() is None, "the copy ended before the kill point (too fast to kill mid-copy)"
        a.crash()
        killed = time.monotonic()
        at_kill = file_size(on_export)
        assert wait_until(lambda: file_size(on_export) > at_kill or copy.poll() is not None, 60, step=0.002), (
            "the copy made no progress after the kill")
        stall = time.monotonic() - killed
        assert copy.wait(timeout=60) == 0, f"the copy failed: {harness.read_log(tmp_path / 'dd.log')}"
        assert file_size(on_export) == size
        assert sha256_of(on_export) == want, "the export's copy differs"
        assert sha256_of(mount.mountpoint / "copy") == want, "the copy read back through the mount differs"
    finally:
        original.unlink(missing_ok=True)
    log = mount.log_text()
    assert f"server {a.address} {MOVED} {b.address}" in log, log
    moved = [line for line in log.splitlines() if MOVED in line]
    print(f"copy of {COPY_MIB} MiB: killed A at {at_kill >> 20} MiB; the file grew again through B "
          f"{stall * 1000:.0f} ms after the kill; client: {moved[-1].strip()}")
    assert stall < 60


@pytest.mark.timeout_seconds(90)
def test_a_silent_server_is_left_for_the_next_after_the_heartbeat_timeout(server_factory, mount_factory, registry,
                                                                           tmp_path):
    """Server A is stopped (SIGSTOP: its connections stay open, it answers nothing). A read that
    needs the server completes through B once the client's heartbeat gives up on A (20 s
    timeout, checked every 5 s). Prints the stall."""
    a, b = pair(server_factory, tmp_path)
    mount = mount_factory(both(a, b))
    (mount.mountpoint / "before").write_text("through A\n")
    # Made behind the servers' backs: reading it needs a LOOKUP, so the server must answer.
    (a.export / "behind").write_text("through B\n")
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        reader = registry.spawn([sys.executable, "-c", f"print(open({str(mount.mountpoint / 'behind')!r}).read(), end='')"],
                                stdout=subprocess.PIPE, label="reader")
        out, _ = reader.communicate(timeout=60)
        stall = time.monotonic() - started
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    assert reader.returncode == 0
    assert out == b"through B\n"
    assert f"server {a.address} {MOVED} {b.address}" in mount.log_text(), mount.log_text()
    print(f"silent server: the read completed through B {stall:.1f} s after A was stopped")
    assert stall < 60


def test_a_server_that_comes_back_is_used_again_when_the_other_dies(server_factory, mount_factory, run_pohmelfs,
                                                                    tmp_path):
    """A dies: the mount moves to B. A is restarted, then B dies: the mount moves back to A, and
    a file kept open all along still reads and writes. `pohmelfs status` names the server in use."""
    key = tmp_path / "handle-key"
    a, b = pair(server_factory, tmp_path)
    mount = mount_factory(both(a, b))
    with open(mount.mountpoint / "kept", "w+b", buffering=0) as kept:
        kept.write(b"one ")
        a.crash()
        assert wait_until(lambda: f"server {a.address} {MOVED} {b.address}" in mount.log_text(), 10), mount.log_text()
        kept.write(b"two ")
        a = server_factory(export=a.export, state_dir=a.state_dir, port=a.port, args=("--handle-key", key))
        b.crash()
        assert wait_until(lambda: f"server {b.address} {MOVED} {a.address}" in mount.log_text(), 10), mount.log_text()
        kept.write(b"three")
        kept.seek(0)
        assert kept.read() == b"one two three"
    assert (a.export / "kept").read_bytes() == b"one two three"
    result = run_pohmelfs("status", mount.mountpoint, "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["server"] == a.address, status
    assert status["source"] == f"{a.address},{b.address}:/", status

def test_a_mount_whose_first_server_is_down_mounts_through_the_next(server_factory, mount_factory, tmp_path):
    """The first server of the list refuses connections: the mount comes up through the second
    and says why it skipped the first."""
    down = SimpleNamespace(address=f"127.0.0.1:{harness.free_port()}")
    b = server_factory()
    (b.export / "hello").write_text("through B\n")
    mount = mount_factory(both(down, b))
    assert (mount.mountpoint / "hello").read_text() == "through B\n"
    assert f"server {down.address} did not answer; trying the next" in mount.log_text()


def test_bad_server_lists_are_refused_with_a_clear_error(run_pohmelfs, tmp_path):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    for source, expected in [
        ("127.0.0.1:1,,127.0.0.1:2", "server 2 of 3 is empty"),
        ("127.0.0.1:1,127.0.0.1:99999", "server 2 of 2, '127.0.0.1:99999', is not HOST"),
        ("127.0.0.1:7,127.0.0.1:7", "127.0.0.1:7 is named twice"),
    ]:
        result = run_pohmelfs("mount", source, mountpoint, "-f", timeout=10)
        assert result.returncode == 2, (source, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pohmelfs mount: "), result.stderr
        assert expected in lines[0], (source, result.stderr)
    # Nothing answers at all: one line naming each server and why, no mount.
    dead = [f"127.0.0.1:{harness.free_port()}" for _ in range(2)]
    result = run_pohmelfs("mount", ",".join(dead) + ":/", mountpoint, timeout=30)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "none of the 2 servers answered" in lines[0], result.stderr
    assert all(f"{address}: Connection refused" in lines[0] for address in dead), result.stderr
    assert not harness.is_mounted(mountpoint)


@pytest.mark.timeout_seconds(60)
def test_a_lock_held_through_a_killed_server_is_reclaimed_through_the_other(
        server_factory, mount_factory, agent_factory, run_pohmelfs, tmp_path):  # noqa: F811
    """A process holds an fcntl lock through A (mount naming A,B); A is killed. The client
    reclaims the lock through B: B's table shows it, another mount of B cannot take it, and gets
    it once the holder unlocks. The holder's descriptor keeps working (reopened by handle)."""
    a, b = pair(server_factory, tmp_path)
    failing_over = mount_factory(both(a, b))
    other_mount = mount_factory(b)
    (failing_over.mountpoint / "f").write_bytes(b"x" * 100)
    holder, other = agent_factory("holder"), agent_factory("other")
    fd = holder.open(failing_over.mountpoint / "f")
    assert holder.fcntl(fd, "F_SETLK", "write", 10, 20)["ok"]
    a.crash()

    def held_on_b():
        result = run_pohmelfs("locks", b.address, "--json")
        assert result.returncode == 0, result.stderr
        return [(lock["kind"], lock["start"], lock["end"]) for lock in json.loads(result.stdout)["locks"]
                if lock["state"] == "held"]

    assert wait_until(lambda: held_on_b() == [("posix", 10, 29)], 30, step=0.1), held_on_b()
    ofd = other.open(other_mount.mountpoint / "f")
    assert other.fcntl(ofd, "F_SETLK", "write", 0, 0)["errno"] == errno.errorcode[errno.EAGAIN]
    assert holder.fcntl(fd, "F_SETLK", "unlock", 10, 20)["ok"]
    assert wait_until(lambda: other.fcntl(ofd, "F_SETLK", "write", 0, 0)["ok"], 5, step=0.05)
    assert f"server {a.address} {MOVED} {b.address}" in failing_over.log_text()


def test_two_servers_cannot_share_a_state_directory(server_factory, run_pohmelfs, tmp_path):
    """The state directory's reclaim marker belongs to one server: a second one is refused."""
    a = server_factory()
    result = run_pohmelfs("serve", "--export", a.export, "--listen", f"127.0.0.1:{harness.free_port()}",
                          "--state-dir", a.state_dir, timeout=10)
    assert result.returncode != 0
    assert f"state directory {a.state_dir} is in use by another pohmelfs serve" in result.stderr, result.stderr


def test_the_mount_helper_mounts_an_fstab_line_naming_two_servers(server_factory, registry, pohmelfs_bin,
                                                                 tmp_path):
    """An fstab line `A,B:/sub MOUNTPOINT fuse.pohmelfs _netdev,nofail`: mount(8) runs the helper,
    which mounts through A; the source keeps both servers (commas and all) in mountinfo."""
    a, b = pair(server_factory, tmp_path)
    (a.export / "sub").mkdir()
    (a.export / "sub" / "hello").write_text("from the export\n")
    mountpoint = tmp_path / "fstab-mnt"
    mountpoint.mkdir()
    registry.mounts.append(SimpleNamespace(mountpoint=mountpoint, device=None))
    env = dict(os.environ, POHMELFS_BIN=str(pohmelfs_bin))
    source = f"{a.address},{b.address}:/sub"
    result = registry.run([Path(__file__).resolve().parents[2] / "packaging" / "mount.fuse.pohmelfs", source,
                           mountpoint, "-o", "rw,_netdev,nofail"], env=env)
    try:
        assert result.returncode == 0, result.stderr
        assert harness.is_mounted(mountpoint)
        assert (mountpoint / "hello").read_text() == "from the export\n"
        with open("/proc/self/mountinfo") as mountinfo:
            line = next(line for line in mountinfo if f" {mountpoint} " in line)
        assert f"{a.address},{b.address}:/sub" in line, line
    finally:
        harness.lazy_unmount(mountpoint)
        deadline = time.monotonic() + 10
        while harness.processes_mentioning(str(mountpoint)) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not harness.processes_mentioning(str(mountpoint)), "the mount daemon outlived its unmount"
