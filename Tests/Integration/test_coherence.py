"""Coherent client cache across mounts (issue 5): a write acknowledged on one client is seen by a
read that starts afterwards on another, even when the reader keeps the file open with its pages
cached; and the same checker fails against a server that skips invalidation, so it can fail."""

import os
import random
import threading
import time

import pytest

from harness import ProactiveReclaimPaused

ROUNDS = 10_000
FILE_SIZE = 1 << 20


def read_after_write(a: str, b: str, rounds: int, seed: int) -> int:
    """B reads a range (caching it), A overwrites it with new random bytes, B reads it again at
    once. Returns how many of B's second reads were stale."""
    rng = random.Random(seed)
    with open(os.path.join(a, "shared"), "wb") as f:
        f.write(os.urandom(FILE_SIZE))
    writer = os.open(os.path.join(a, "shared"), os.O_RDWR)
    reader = os.open(os.path.join(b, "shared"), os.O_RDONLY)
    stale = 0
    try:
        for _ in range(rounds):
            offset = rng.randrange(0, FILE_SIZE - 8192)
            length = rng.randrange(1, 8192)
            os.pread(reader, length, offset)
            data = rng.randbytes(length)
            assert os.pwrite(writer, data, offset) == length
            if os.pread(reader, length, offset) != data:
                stale += 1
    finally:
        os.close(writer)
        os.close(reader)
    return stale


@pytest.mark.timeout_seconds(300)
def test_reads_after_an_acknowledged_write_see_it_on_another_mount(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    seed = int(os.environ.get("POHMELFS_COHERENCE_SEED", random.randrange(1 << 32)))
    print(f"coherence seed {seed}")
    stale = read_after_write(a.mountpoint, b.mountpoint, ROUNDS, seed)
    print(f"read-after-write: {ROUNDS} rounds, {stale} stale reads")
    assert stale == 0


@pytest.mark.timeout_seconds(300)
def test_the_checker_fails_without_invalidation(server_factory, mount_factory):
    unsafe = server_factory(args=["--unsafe-no-invalidation"])
    a, b = mount_factory(unsafe), mount_factory(unsafe)
    stale = read_after_write(a.mountpoint, b.mountpoint, 500, seed=1)
    print(f"without invalidation: 500 rounds, {stale} stale reads")
    assert stale > 0, "the read-after-write checker cannot detect stale caches"


def settled_reads(server) -> int:
    """The server's READ count once two consecutive STATUS= updates agree."""
    return server.notify.settled_status_numbers(r"(\d+) reads")[0]


@pytest.mark.timeout_seconds(180)
def test_a_cached_reread_causes_no_reads_on_the_server(server_factory, mount_factory):
    server = server_factory(args=["--status-interval", "0.1"])
    mount = mount_factory(server)
    path = os.path.join(mount.mountpoint, "big")
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(512):
            f.write(block)
    # The VM's own proactive reclaim must not evict the pages this test counts on.
    with ProactiveReclaimPaused():
        with open(path, "rb") as f:  # the first read fills the cache
            while f.read(1 << 20):
                pass
        before = settled_reads(server)
        with open(path, "rb") as f:  # a new open, the file still cached: nothing goes to the server
            total = 0
            while chunk := f.read(1 << 20):
                assert chunk == block
                total += len(chunk)
    assert total == 512 << 20
    after = settled_reads(server)
    print(f"server READs during the cached re-read of 512 MiB: {after - before}")
    assert after == before


def settled_writes(server) -> int:
    """The server's WRITE count once two consecutive STATUS= updates agree."""
    return server.notify.settled_status_numbers(r"(\d+) writes")[0]


WRITEBACK_ROUNDS = 300
PIECE = 4096


@pytest.mark.timeout_seconds(300)
def test_reads_after_fsync_see_buffered_writes_on_another_mount(server_factory, mount_factory):
    """With write-back on (the default): A writes a range in 4 KiB pieces, which it buffers while it
    holds the file's write-back grant, and fsyncs; B then opens the file (recalling the grant), reads
    the range (its cache kept across opens), and must see exactly A's new bytes. The server's WRITE
    count shows the pieces were coalesced, so write-back really was in play."""
    server = server_factory(args=["--status-interval", "0.1"])
    a, b = mount_factory(server), mount_factory(server)
    seed = int(os.environ.get("POHMELFS_COHERENCE_SEED", random.randrange(1 << 32)))
    print(f"coherence seed {seed}")
    rng = random.Random(seed)
    with open(os.path.join(a.mountpoint, "shared"), "wb") as f:
        f.write(os.urandom(FILE_SIZE))
    writer = os.open(os.path.join(a.mountpoint, "shared"), os.O_RDWR)
    before = settled_writes(server)
    stale = 0
    pieces = 0
    try:
        for _ in range(WRITEBACK_ROUNDS):
            offset = rng.randrange(0, FILE_SIZE - 8 * PIECE)
            count = rng.randrange(2, 9)
            data = rng.randbytes(count * PIECE)
            for index in range(count):
                chunk = data[index * PIECE:(index + 1) * PIECE]
                assert os.pwrite(writer, chunk, offset + index * PIECE) == PIECE
            pieces += count
            os.fsync(writer)
            reader = os.open(os.path.join(b.mountpoint, "shared"), os.O_RDONLY)
            try:
                if os.pread(reader, len(data), offset) != data:
                    stale += 1
            finally:
                os.close(reader)
    finally:
        os.close(writer)
    writes = settled_writes(server) - before
    print(f"read-after-fsync with write-back: {WRITEBACK_ROUNDS} rounds, {stale} stale reads; "
          f"{pieces} pwrites of 4 KiB reached the server as {writes} WRITEs")
    assert stale == 0
    assert writes < pieces, "no write was buffered and coalesced: write-back was not in play"


@pytest.mark.timeout_seconds(120)
def test_buffered_writes_reach_the_server_when_the_file_is_closed(server, mount_factory):
    """Dirty data is written back on close: right after close() another mount, and the export
    itself, hold every byte."""
    a, b = mount_factory(server), mount_factory(server)
    for round_number in range(20):
        data = os.urandom(64 * PIECE + 123)
        fd = os.open(os.path.join(a.mountpoint, f"closed-{round_number}"), os.O_CREAT | os.O_WRONLY, 0o644)
        try:
            for offset in range(0, len(data), PIECE):
                os.pwrite(fd, data[offset:offset + PIECE], offset)
        finally:
            os.close(fd)
        with open(server.export / f"closed-{round_number}", "rb") as f:
            assert f.read() == data, "the export lacks bytes written before close()"
        with open(os.path.join(b.mountpoint, f"closed-{round_number}"), "rb") as f:
            assert f.read() == data, "another mount lacks bytes written before close()"


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


@pytest.mark.timeout_seconds(600)
def test_a_large_copy_keeps_the_client_within_its_cache_bound(server, mount_factory):
    """A 2 GiB copy through a mount with cache_size=64M, written in 64 KiB pieces (all buffered
    while the grant is held): the mount process's resident memory, sampled every 100 ms, stays
    under cache_size + 64 MiB throughout."""
    mount = mount_factory(server, options="cache_size=64M")
    limit = (64 << 20) + (64 << 20)
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(resident_bytes(mount.proc.pid))
            time.sleep(0.1)

    baseline = resident_bytes(mount.proc.pid)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    block = os.urandom(64 << 10)
    path = os.path.join(mount.mountpoint, "big-copy")
    try:
        with open(path, "wb", buffering=0) as f:
            for _ in range((2 << 30) // len(block)):
                f.write(block)
    finally:
        done.set()
        sampler.join()
    size = os.stat(server.export / "big-copy").st_size
    os.unlink(path)
    peak = max(samples)
    print(f"2 GiB copy with cache_size=64M: {len(samples)} samples, RSS at start {baseline / (1 << 20):.1f} MiB, "
          f"peak {peak / (1 << 20):.1f} MiB")
    assert size == 2 << 30
    assert len(samples) > 10
    assert peak < limit, f"peak RSS {peak / (1 << 20):.1f} MiB exceeds cache_size + 64 MiB"
