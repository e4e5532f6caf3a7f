"""Shared mappings of files opened for direct I/O (`-o cache=none`): mmap(MAP_SHARED) works
(the mount asks its kernel for FUSE_DIRECT_IO_ALLOW_MMAP), and mapped pages keep the coherence
promise across clients: what one mount writes (write(2) or a mapping plus msync) is what
another mount's mapping shows once the write has returned."""

from __future__ import annotations

import mmap
import os

import pytest

from posix_helpers import pattern, pwrite_all

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

SIZE = 3 * mmap.PAGESIZE + 100


@pytest.mark.timeout_seconds(60)
def test_shared_mappings_work_and_stay_coherent_with_cache_none(server, mount_factory):
    a, b = mount_factory(server, "cache=none"), mount_factory(server, "cache=none")
    model = bytearray(pattern(7, SIZE))
    (a.mountpoint / "mapped").write_bytes(model)
    fd_a = os.open(a.mountpoint / "mapped", os.O_RDWR)
    fd_b = os.open(b.mountpoint / "mapped", os.O_RDWR)
    try:
        with mmap.mmap(fd_a, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as map_a, \
                mmap.mmap(fd_b, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as map_b:
            assert map_a[:] == model and map_b[:] == model
            # A write(2) on mount A: mount B's mapping shows it.
            pwrite_all(fd_a, b"written on A", mmap.PAGESIZE + 5)
            model[mmap.PAGESIZE + 5:mmap.PAGESIZE + 17] = b"written on A"
            assert map_b[:] == model, "mount B's mapping is stale after A's write"
            # A's own mapping shows its write too.
            assert map_a[:] == model
            # Stores through B's mapping, msync: A's read(2) and A's mapping show them.
            map_b[10:22] = b"mapped on B."
            model[10:22] = b"mapped on B."
            map_b.flush()
            assert os.pread(fd_a, SIZE, 0) == bytes(model)
            assert map_a[:] == model, "mount A's mapping is stale after B's msync"
    finally:
        os.close(fd_a)
        os.close(fd_b)
    assert (server.export / "mapped").read_bytes() == bytes(model)
