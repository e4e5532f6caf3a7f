"""Streamed writes under the write-back grant (issue 17, item 2): a 1 MiB write on a file whose
grant the client holds is sent at once and `write(2)` returns once it is queued, several in flight
per file (ConsistencyContract, "Streamed writes under the grant"). What must still hold: the
server applies a file's WRITEs in the order they were made (a later overlapping write wins), and a
WRITE that fails after `write(2)` returned is reported at the next fsync, once."""

import errno
import os

import pytest

MIB = 1 << 20
PAGE = 4096
TIMEOUT = 90


def expected_after(writes, size):
    """The file a local disk would hold after `writes` (offset, byte) of 1 MiB each, in order."""
    content = bytearray(size)
    for offset, value in writes:
        content[offset:offset + MIB] = bytes([value]) * MIB
    return bytes(content)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_the_later_of_overlapping_streamed_writes_wins_on_another_mount(server_factory, mount_factory):
    """A writes files with runs of overlapping 1 MiB writes, each shifted by a page, without
    waiting between them (up to 8 in flight), then closes; B reads every page back. Each page must
    hold the last write that covered it: if the server performed two WRITEs in flight in another
    order than they were made, the earlier one's bytes would show where they overlap. The server
    holds every other WRITE back a little before performing it (`--test-stagger-writes`), so the
    WRITE after it would overtake it unless the server keeps them in arrival order."""
    server = server_factory(args=("--test-stagger-writes", "20"))
    a, b = mount_factory(server), mount_factory(server)
    runs, per_run = 6, 8
    plans = {}
    for run in range(runs):
        name = f"f{run}"
        # CREATE brings the grant: every write below is streamed.
        fd = os.open(a.mountpoint / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            writes = [(i * PAGE * (1 + run % 3), 1 + (run * per_run + i) % 251) for i in range(per_run)]
            for offset, value in writes:
                assert os.pwrite(fd, bytes([value]) * MIB, offset) == MIB
        finally:
            os.close(fd)
        plans[name] = writes
    for name, writes in plans.items():
        size = max(offset for offset, _ in writes) + MIB
        content = (b.mountpoint / name).read_bytes()
        assert len(content) == size, name
        want = expected_after(writes, size)
        if content != want:
            bad = next(i for i in range(0, size, PAGE) if content[i:i + PAGE] != want[i:i + PAGE])
            pytest.fail(f"{name}: page at {bad} holds {content[bad]}, the last write there was {want[bad]}")


@pytest.fixture
def small_export(tmp_path, registry):
    """An export on a 4 MiB tmpfs, unmounted whatever happens."""
    path = tmp_path / "small"
    path.mkdir()
    result = registry.run(["mount", "-t", "tmpfs", "-o", "size=4M", "tmpfs", str(path)], timeout=10)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield path / "export"
    finally:
        registry.run(["umount", "-l", str(path)], timeout=10)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_streamed_write_that_fails_is_reported_at_fsync_once(server_factory, mount_factory, small_export):
    """8 MiB written into a 4 MiB export: the eight 1 MiB writes are in flight together, so each
    `write(2)` returns at once; the server's ENOSPC comes back at fsync, once (a second fsync and
    the close succeed), and what landed before the export filled up is intact on another mount."""
    server = server_factory(export=small_export)
    a, b = mount_factory(server), mount_factory(server)
    chunks = [bytes([1 + i]) * MIB for i in range(8)]
    fd = os.open(a.mountpoint / "big", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        for i, chunk in enumerate(chunks):
            assert os.pwrite(fd, chunk, i * MIB) == MIB, f"write {i}"
        with pytest.raises(OSError) as failure:
            os.fsync(fd)
        assert failure.value.errno == errno.ENOSPC
        os.fsync(fd)  # reported once
    finally:
        os.close(fd)
    content = (b.mountpoint / "big").read_bytes()
    # Each byte is the one written there, or a hole (zero) where a WRITE failed.
    for i in range(0, len(content), MIB):
        assert set(content[i:i + MIB]) <= {0, 1 + i // MIB}, f"MiB {i // MIB} holds bytes nobody wrote there"
    assert content[:MIB] == chunks[0], "the first MiB fitted and is not there"
