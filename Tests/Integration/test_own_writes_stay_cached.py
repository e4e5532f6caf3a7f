"""A mount keeps the pages it wrote (ConsistencyContract "Changes made outside pohmelfs"): with
leases its kernel's `auto_inval_data` is off, since every change made through the server is
invalidated explicitly; with it on, the new mtime the kernel saw after the mount's own write
dropped the file's pages, so a file written and then read back (a build's objects, `git clone`'s
pack, `cp` then a checksum) was read again from the server. Other mounts' changes, and this
mount's own direct and appending writes, still reach a descriptor that caches the file."""

import mmap
import os

import pytest

from test_leases import moved, opcode_counts


TIMEOUT = 60
PAGE_ALIGNED = 48 * 4096  # whole pages: the kernel holds every one of them after the write


@pytest.mark.timeout_seconds(TIMEOUT)
def test_files_a_mount_wrote_are_read_back_from_its_cache(metrics_server, mount_factory):
    mount = mount_factory(metrics_server)
    contents = {}
    for i in range(20):
        path = mount.mountpoint / f"f{i}"
        contents[path] = os.urandom(PAGE_ALIGNED)
        with open(path, "wb") as f:
            f.write(contents[path])
            f.flush()
            os.fsync(f.fileno())  # on the server now, stamped with the server's mtime
    before = opcode_counts(metrics_server)
    for round in range(2):
        for path, data in contents.items():
            os.stat(path)
            assert path.read_bytes() == data, f"{path.name} read back wrong in round {round}"
    sent = moved(before, opcode_counts(metrics_server))
    assert sent.get("READ", 0) == 0, f"the mount read back what it wrote from the server: {sent}"


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_write_on_another_mount_still_reaches_a_cached_descriptor(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "shared").write_bytes(b"a" * PAGE_ALIGNED)
    with open(a.mountpoint / "shared", "rb") as reader:
        assert reader.read() == b"a" * PAGE_ALIGNED
        with open(b.mountpoint / "shared", "r+b") as writer:
            writer.seek(4096)
            writer.write(b"b" * 4096)  # same size, new mtime: only the invalidation says so
        assert os.pread(reader.fileno(), 4096, 4096) == b"b" * 4096
        assert os.pread(reader.fileno(), 4096, 0) == b"a" * 4096


@pytest.mark.timeout_seconds(TIMEOUT)
def test_direct_and_appending_writes_on_the_same_mount_reach_its_cached_descriptor(server, mount_factory):
    mount = mount_factory(server)
    path = mount.mountpoint / "mixed"
    path.write_bytes(b"a" * PAGE_ALIGNED)
    with open(path, "rb") as reader:
        assert reader.read() == b"a" * PAGE_ALIGNED
        direct = os.open(path, os.O_WRONLY | os.O_DIRECT)
        try:
            buffer = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT wants
            buffer.write(b"d" * 4096)
            assert os.pwritev(direct, [buffer], 8192) == 4096
        finally:
            os.close(direct)
        assert os.pread(reader.fileno(), 4096, 8192) == b"d" * 4096, "a direct write left a stale page"
        with open(path, "ab") as appender:
            appender.write(b"e" * 100)
        assert os.pread(reader.fileno(), 200, PAGE_ALIGNED - 100) == b"a" * 100 + b"e" * 100
