"""READs the server answers on its event loop (`RequestRouter+FastRead`): bytes the server's page
cache holds are read with preadv2(RWF_NOWAIT) without leaving the event loop; bytes it does not
hold make RWF_NOWAIT fail with EAGAIN and the READ goes to the thread pool. Both branches must
return exactly the file's bytes, through two mounts of one server, and a write through one mount
must be seen by the other's next read whichever branch serves it. A tmpfs export refuses
RWF_NOWAIT, but its pages are memory: its reads stay on the event loop too (a plain pread).

Which branch served the reads is told by the server's STATUS= line: "N reads" counts every READ,
"M reads on the event loop" those answered there."""

from __future__ import annotations

import mmap
import os
import random

import pytest

SIZE = 8 << 20
BLOCK = 4096
SAMPLES = 64


def settled_counts(server) -> tuple[int, int]:
    """(READs served, READs answered on the event loop), once both are stable."""
    return server.notify.settled_status_numbers(r"(\d+) reads,", r"(\d+) reads on the event loop")


def direct_reads(path, offsets) -> dict[int, bytes]:
    """4 KiB O_DIRECT reads (each one READ to the server) at `offsets`."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buffer = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT wants
    try:
        result = {}
        for offset in offsets:
            assert os.preadv(fd, [buffer], offset) == BLOCK
            result[offset] = bytes(buffer[:BLOCK])
        return result
    finally:
        buffer.close()
        os.close(fd)


def write_seen_by_other_mount(writer, reader, offset) -> bytes:
    """Writes a fresh block at `offset` through `writer`, checks that `reader`'s next direct read
    returns it, and returns the block."""
    fresh = random.randbytes(BLOCK)
    fd = os.open(writer.mountpoint / "data", os.O_WRONLY)
    try:
        os.pwrite(fd, fresh, offset)
    finally:
        os.close(fd)
    assert direct_reads(reader.mountpoint / "data", [offset])[offset] == fresh
    return fresh


def evict(path) -> None:
    """Drops the file's pages from the server's page cache; skips the test where the export's
    filesystem keeps them (tmpfs) or cannot say (no RWF_NOWAIT), probing a block no read uses."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        try:
            os.preadv(fd, [bytearray(BLOCK)], SIZE - BLOCK, os.RWF_NOWAIT)
        except BlockingIOError:
            return
        except OSError as error:
            pytest.skip(f"RWF_NOWAIT reads of the export fail here ({error})")
        pytest.skip("the export's filesystem keeps pages after POSIX_FADV_DONTNEED (tmpfs?)")
    finally:
        os.close(fd)


@pytest.mark.timeout_seconds(120)
def test_cold_reads_fall_back_to_the_pool_and_warm_reads_stay_on_the_event_loop(server_factory, mount_factory):
    server = server_factory(args=["--status-interval", "0.1"])
    first = mount_factory(server)
    second = mount_factory(server)
    content = bytearray(random.randbytes(SIZE))
    exported = server.export / "data"
    exported.write_bytes(content)
    # One block in every 128 KiB, shuffled: random reads, none sharing a page with another.
    offsets = random.sample(range(0, SIZE, 32 * BLOCK), SAMPLES)

    # Cold: the server's page cache holds none of it; the reads must go to the pool.
    direct_reads(first.mountpoint / "data", offsets[:1])  # opens and looks the file up once
    evict(exported)
    total0, fast0 = settled_counts(server)
    for offset, data in direct_reads(first.mountpoint / "data", offsets).items():
        assert data == content[offset:offset + BLOCK], f"cold read at {offset} returned other bytes"
    total1, fast1 = settled_counts(server)
    assert total1 - total0 >= SAMPLES
    print(f"cold: {total1 - total0} READs, {fast1 - fast0} on the event loop")
    assert (total1 - total0) - (fast1 - fast0) >= SAMPLES // 2, "cold reads did not fall back to the pool"

    # Warm: every byte is in the server's page cache; the reads stay on the event loop.
    exported.read_bytes()
    for offset, data in direct_reads(second.mountpoint / "data", offsets).items():
        assert data == content[offset:offset + BLOCK], f"warm read at {offset} returned other bytes"
    total2, fast2 = settled_counts(server)
    print(f"warm: {total2 - total1} READs, {fast2 - fast1} on the event loop")
    assert fast2 - fast1 >= SAMPLES * 3 // 4, "warm reads were not answered on the event loop"

    # A write through one mount, read back through the other on the event loop.
    content[offsets[0]:offsets[0] + BLOCK] = write_seen_by_other_mount(first, second, offsets[0])
    assert direct_reads(second.mountpoint / "data", offsets) == {o: bytes(content[o:o + BLOCK]) for o in offsets}


@pytest.fixture
def tmpfs_export(tmpfs_factory):
    """An export on its own tmpfs, unmounted whatever happens."""
    return tmpfs_factory("memory", "64M") / "export"


@pytest.mark.timeout_seconds(120)
def test_reads_of_a_tmpfs_export_stay_on_the_event_loop(server_factory, mount_factory, tmpfs_export):
    """tmpfs refuses RWF_NOWAIT (EOPNOTSUPP), yet its pages are memory: the server reads such a
    file with a plain pread on the event loop instead of sending every READ to the pool."""
    server = server_factory(export=tmpfs_export, args=["--status-interval", "0.1"])
    first = mount_factory(server)
    second = mount_factory(server)
    content = bytearray(random.randbytes(SIZE))
    (server.export / "data").write_bytes(content)
    offsets = random.sample(range(0, SIZE, 32 * BLOCK), SAMPLES)

    direct_reads(first.mountpoint / "data", offsets[:1])
    total0, fast0 = settled_counts(server)
    assert direct_reads(first.mountpoint / "data", offsets) == {o: bytes(content[o:o + BLOCK]) for o in offsets}
    total1, fast1 = settled_counts(server)
    print(f"tmpfs: {total1 - total0} READs, {fast1 - fast0} on the event loop")
    assert total1 - total0 >= SAMPLES
    assert fast1 - fast0 >= SAMPLES * 3 // 4, "reads of a tmpfs export went to the thread pool"

    # A write through one mount, read back through the other on the event loop.
    write_seen_by_other_mount(first, second, offsets[0])
