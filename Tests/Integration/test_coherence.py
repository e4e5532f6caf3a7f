"""Coherent client cache across mounts (issue 5): a write acknowledged on one client is seen by a
read that starts afterwards on another, even when the reader keeps the file open with its pages
cached; and the same checker fails against a server that skips invalidation, so it can fail."""

import os
import random
import re
import time

import pytest

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


def served_reads(server) -> int:
    """The server's READ count from its latest STATUS= line."""
    for line in reversed(server.notify.assignments()):
        match = re.search(r"(\d+) reads", line)
        if line.startswith("STATUS=") and match:
            return int(match.group(1))
    raise AssertionError("no STATUS= line with a read count")


def settled_reads(server) -> int:
    """The READ count once two consecutive STATUS= updates agree."""
    previous = -1
    for _ in range(50):
        time.sleep(0.25)
        current = served_reads(server)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the server's read count never settled")


@pytest.mark.timeout_seconds(180)
def test_a_cached_reread_causes_no_reads_on_the_server(server_factory, mount_factory):
    server = server_factory(args=["--status-interval", "0.1"])
    mount = mount_factory(server)
    path = os.path.join(mount.mountpoint, "big")
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(512):
            f.write(block)
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
