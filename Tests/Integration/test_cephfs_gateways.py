"""Several `pohmelfs serve --store cephfs` over one CephFS (the `ceph_cluster` fixture), one mount
through each, and the CephFS store's start-up errors.

- A write acknowledged through server A is read through server B by a read that starts
  afterwards, from a descriptor B's client opened before the write too (ConsistencyContract,
  "Several servers over one CephFS": with `sharedStore` the clients cache nothing).
- Names made through A are seen, renamed and removed through B; object handles issued by A
  resolve on B and go ESTALE with their file (or on another export).
- fcntl locks conflict across servers (an F_SETLKW counter incremented through both ends
  exact; F_SETLK through B meets a lock held through A); `pohmelfs locks` says it lists only
  its own server's locks.
- `serve --store cephfs` says clearly why it cannot start: a missing export, a cluster that does
  not answer (bounded by --ceph-timeout), a user the cluster does not know, the CephFS root.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from posix_helpers import pattern

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

BLOCK = 4096
SPAN = 1 << 20
# The full-size checks: POHMELFS_CEPH_STALE_ROUNDS=2000 POHMELFS_CEPH_COUNTER_ROUNDS=2000.
STALE_ROUNDS = int(os.environ.get("POHMELFS_CEPH_STALE_ROUNDS", "300"))
COUNTER_ROUNDS = int(os.environ.get("POHMELFS_CEPH_COUNTER_ROUNDS", "150"))


@pytest.fixture
def gateways(ceph_cluster, server_factory, mount_factory):
    """(mount through server A, mount through server B), both servers exporting one fresh CephFS
    directory."""
    a = server_factory(cephfs=ceph_cluster)
    b = server_factory(cephfs=ceph_cluster, cephfs_export=a.cephfs_export)
    return mount_factory(a), mount_factory(b)


@pytest.mark.timeout_seconds(120 + STALE_ROUNDS // 10)
def test_a_write_acknowledged_through_one_server_is_read_through_the_other(gateways):
    through_a, through_b = gateways
    (through_a.mountpoint / "file").write_bytes(pattern(1, SPAN))
    writer = os.open(through_a.mountpoint / "file", os.O_WRONLY)
    kept = os.open(through_b.mountpoint / "file", os.O_RDONLY)
    try:
        # B's client reads the whole file first: a client that cached would keep these pages.
        assert os.pread(kept, SPAN, 0) == pattern(1, SPAN)
        stale = 0
        for round_number in range(STALE_ROUNDS):
            offset = (round_number * 7 * BLOCK) % SPAN
            data = (b"%08d" % round_number) * (BLOCK // 8)
            assert os.pwrite(writer, data, offset) == BLOCK
            if os.pread(kept, BLOCK, offset) != data:
                stale += 1
            if round_number % 10 == 0:
                fresh = os.open(through_b.mountpoint / "file", os.O_RDONLY)
                try:
                    stale += os.pread(fresh, BLOCK, offset) != data
                finally:
                    os.close(fresh)
        assert stale == 0, f"{stale} reads through B returned data older than a write acknowledged through A"
        # Growth, seen through B's descriptor and by stat through B.
        assert os.pwrite(writer, b"tail", SPAN) == 4
        assert os.fstat(kept).st_size == SPAN + 4
        assert os.stat(through_b.mountpoint / "file").st_size == SPAN + 4
        assert os.pread(kept, 8, SPAN - 4)[4:] == b"tail"
    finally:
        os.close(kept)
        os.close(writer)


def test_names_made_through_one_server_are_seen_and_changed_through_the_other(gateways):
    through_a, through_b = gateways
    (through_a.mountpoint / "dir").mkdir()
    (through_a.mountpoint / "dir" / "note").write_bytes(b"from A")
    assert sorted(os.listdir(through_b.mountpoint / "dir")) == ["note"]
    assert os.stat(through_b.mountpoint / "dir" / "note").st_ino == os.stat(through_a.mountpoint / "dir" / "note").st_ino
    os.rename(through_b.mountpoint / "dir" / "note", through_b.mountpoint / "dir" / "moved")
    assert sorted(os.listdir(through_a.mountpoint / "dir")) == ["moved"]
    assert not (through_a.mountpoint / "dir" / "note").exists()
    assert (through_a.mountpoint / "dir" / "moved").read_bytes() == b"from A"
    os.unlink(through_a.mountpoint / "dir" / "moved")
    assert os.listdir(through_b.mountpoint / "dir") == []


def _serve_fails(run_pohmelfs, ceph_cluster, *args, timeout=30):
    started = time.monotonic()
    result = run_pohmelfs("serve", "--listen", "127.0.0.1:1", *args, timeout=timeout)
    return result, time.monotonic() - started


def test_serve_says_why_the_cephfs_store_cannot_start(ceph_cluster, run_pohmelfs, tmp_path):
    base = ["--store", "cephfs", "--ceph-conf", ceph_cluster.conf, "--ceph-id", ceph_cluster.id,
            "--state-dir", str(tmp_path / "state")]

    result, _ = _serve_fails(run_pohmelfs, ceph_cluster, *base, "--export", "/no/such/dir")
    assert result.returncode != 0 and "export /no/such/dir does not exist in the CephFS" in result.stderr

    result, _ = _serve_fails(run_pohmelfs, ceph_cluster, *base, "--export", "/")
    assert result.returncode != 0 and "export / is not supported with --store cephfs" in result.stderr

    result, _ = _serve_fails(run_pohmelfs, ceph_cluster, "--store", "cephfs", "--ceph-conf", ceph_cluster.conf,
                             "--ceph-id", "nobody", "--export", "/export")
    assert result.returncode != 0 and "client.nobody" in result.stderr, result.stderr

    # A cluster that does not answer: the monitor address of a port nothing listens on.
    dead = tmp_path / "dead.conf"
    text = open(ceph_cluster.conf).read()
    dead.write_text(re.sub(r"mon host = .*", "mon host = v2:127.0.0.1:9", text))
    result, took = _serve_fails(run_pohmelfs, ceph_cluster, "--store", "cephfs", "--ceph-conf", str(dead),
                                "--ceph-id", ceph_cluster.id, "--ceph-timeout", "2", "--export", "/export")
    assert result.returncode != 0 and "no answer within 2 s" in result.stderr, result.stderr
    assert took < 20


def test_handles_from_one_server_work_on_the_other_and_go_stale_with_their_file(ceph_cluster, server_factory):
    """Object handles carry (fscid, ino, snapid, btime) under the key both servers read from the
    cluster: B resolves A's handle, gives the same handle for the same name, and answers ESTALE
    once the file is gone, even when a new file took its name. A handle of another export is
    ESTALE too."""
    import errno

    from raw_protocol import ProtocolError, RawClient

    a = server_factory(cephfs=ceph_cluster)
    b = server_factory(cephfs=ceph_cluster, cephfs_export=a.cephfs_export)
    elsewhere = server_factory(cephfs=ceph_cluster)
    through_a, through_b, other = RawClient(a.port), RawClient(b.port), RawClient(elsewhere.port)
    try:
        for client in (through_a, through_b, other):
            client.hello()
        assert through_a.root == through_b.root
        handle, file_id = through_a.create("file")
        through_a.release(file_id)
        assert through_b.lookup("file") == handle
        through_b.release(through_b.open(handle))
        try:
            other.open(handle)
            raise AssertionError("a handle of another export was accepted")
        except ProtocolError as e:
            assert e.errno == errno.ESTALE
        through_a.unlink("file")
        _, file_id = through_a.create("file")
        through_a.release(file_id)
        try:
            through_b.open(handle)
            raise AssertionError("a handle of a removed file was accepted after its name was reused")
        except ProtocolError as e:
            assert e.errno == errno.ESTALE
    finally:
        for client in (through_a, through_b, other):
            client.close()


COUNTER_WORKER = r"""
import fcntl, os, sys
path, rounds = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR)
for _ in range(rounds):
    fcntl.lockf(fd, fcntl.LOCK_EX)  # F_SETLKW on the whole file
    value = int(os.pread(fd, 32, 0) or b"0")
    os.pwrite(fd, b"%016d" % (value + 1), 0)
    fcntl.lockf(fd, fcntl.LOCK_UN)
os.close(fd)
"""


@pytest.mark.timeout_seconds(120 + COUNTER_ROUNDS // 2)
def test_fcntl_locks_conflict_across_servers(gateways, tmp_path):
    """A counter incremented under F_SETLKW by a process on each mount, each mount through its own
    server, ends exact (the locks are taken in CephFS too: StoreLockGate); and F_SETLK/flock on
    one server meet a lock held through the other."""
    import fcntl
    import subprocess
    import sys

    through_a, through_b = gateways
    (through_a.mountpoint / "counter").write_bytes(b"%016d" % 0)
    rounds = COUNTER_ROUNDS
    workers = [subprocess.Popen([sys.executable, "-c", COUNTER_WORKER, str(mount.mountpoint / "counter"), str(rounds)])
               for mount in (through_a, through_b)]
    try:
        for worker in workers:
            assert worker.wait(timeout=90 + rounds // 2) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert int((through_b.mountpoint / "counter").read_bytes()) == 2 * rounds

    # Non-blocking: a lock held through A refuses F_SETLK and flock through B until it goes.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.lockf(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()",
         str(through_a.mountpoint / "counter")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        fd = os.open(through_b.mountpoint / "counter", os.O_RDWR)
        try:
            with pytest.raises(OSError) as refused:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert refused.value.errno in (11, 13)  # EAGAIN (or EACCES, as fcntl may say)
        finally:
            os.close(fd)
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        fd = os.open(through_b.mountpoint / "counter", os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the holder closed
        finally:
            os.close(fd)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_the_lock_inspector_says_it_shows_only_its_own_servers_locks(ceph_cluster, server_factory, run_pohmelfs):
    server = server_factory(cephfs=ceph_cluster)
    result = run_pohmelfs("locks", server.address)
    assert result.returncode == 0, result.stderr
    assert "only the locks held through this server are listed" in result.stderr
