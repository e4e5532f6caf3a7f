"""The first read of a file (ConsistencyContract "The first read of a file"): an open for reading
brings the file's first 128 KiB, and the kernel's first READ of that open is answered from them,
so reading a small file costs one round trip (OPEN), not two; but only while nothing can have
changed those bytes: a change on another mount, or this mount's own write, made after the open
and before the read, is what the read returns."""

import os

import pytest

from test_leases import moved, opcode_counts

TIMEOUT = 60


def content(i: int, size: int) -> bytes:
    return bytes((i * 7 + k) % 251 for k in range(size))


@pytest.mark.timeout_seconds(TIMEOUT)
def test_small_files_written_on_a_are_read_on_b_without_a_read_request(metrics_server, mount_factory):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server)
    sizes = [0, 1, 100, 4096, 5000, 65536, 100_000, 128 * 1024]
    for i, size in enumerate(sizes):
        (a.mountpoint / f"f{i}").write_bytes(content(i, size))
    before = opcode_counts(metrics_server)
    read = [(b.mountpoint / f"f{i}").read_bytes() for i in range(len(sizes))]
    sent = moved(before, opcode_counts(metrics_server))
    assert read == [content(i, size) for i, size in enumerate(sizes)]
    assert sent.get("OPEN", 0) == len(sizes), sent
    assert sent.get("READ", 0) == 0, sent


@pytest.mark.timeout_seconds(TIMEOUT)
@pytest.mark.parametrize("change", ["overwrite", "truncate", "extend"])
def test_a_file_opened_before_a_change_elsewhere_reads_the_change(server, mount_factory, change):
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"old" * 1000)
    fd = os.open(b.mountpoint / "f", os.O_RDONLY)  # brings the first bytes with it
    try:
        if change == "overwrite":
            expected = b"new" * 1000
            (a.mountpoint / "f").write_bytes(expected)
        elif change == "truncate":
            expected = b""
            os.truncate(a.mountpoint / "f", 0)
        else:
            expected = b"old" * 1000 + b"more"
            with open(a.mountpoint / "f", "ab") as appended:
                appended.write(b"more")
        assert os.pread(fd, 1 << 20, 0) == expected
    finally:
        os.close(fd)


@pytest.mark.timeout_seconds(TIMEOUT)
@pytest.mark.parametrize("closed", [False, True])
def test_a_write_of_this_mount_after_the_open_is_read_back(server, mount_factory, closed):
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"a" * 10_000)  # B has no pages of it: its open reads
    reader = os.open(b.mountpoint / "f", os.O_RDONLY)
    try:
        writer = os.open(b.mountpoint / "f", os.O_WRONLY)
        try:
            os.pwrite(writer, b"XYZ", 0)  # buffered (write-back), or sent if closed below
            if closed:
                os.close(writer)
                writer = None
            assert os.pread(reader, 1 << 20, 0) == b"XYZ" + b"a" * 9_997
        finally:
            if writer is not None:
                os.close(writer)
    finally:
        os.close(reader)
