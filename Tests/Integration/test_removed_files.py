"""Deleting a file frees its space (issue 15, item 2): the server keeps no descriptor to an object
whose last link is gone once no client has it open, so on a small export `rm` through the mount
makes room at once, while a file removed but still open keeps working (POSIX) until its last close.
"""

import os
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts and tmpfs need root and /dev/fuse")

MiB = 1 << 20


@pytest.fixture
def small_export(tmp_path):
    """A 32 MiB tmpfs to export, lazily unmounted afterwards (the server may still hold it)."""
    export = tmp_path / "small-export"
    export.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0755", "tmpfs", str(export)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 32 MiB tmpfs: {mounted.stderr.strip()}")
    yield export
    subprocess.run(["umount", "-l", str(export)], capture_output=True)


def write_file(path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as output:
        for _ in range(size // MiB):
            output.write(block)
        output.flush()
        os.fsync(output.fileno())


def free_bytes(directory) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


@pytest.mark.timeout_seconds(60)
def test_writing_28_mib_deleting_it_and_writing_28_mib_again_fits_in_32_mib(
        small_export, server_factory, mount_factory):
    server = server_factory(export=small_export)
    mount = mount_factory(server)
    write_file(mount.mountpoint / "first", 28 * MiB)
    os.unlink(mount.mountpoint / "first")
    write_file(mount.mountpoint / "second", 28 * MiB)
    assert (server.export / "second").stat().st_size == 28 * MiB


@pytest.mark.timeout_seconds(60)
def test_a_removed_file_keeps_working_while_open_and_frees_its_space_at_the_last_close(
        small_export, server_factory, mount_factory):
    server = server_factory(export=small_export)
    mount = mount_factory(server)
    other = mount_factory(server)
    path = mount.mountpoint / "open-then-removed"
    before = free_bytes(server.export)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"x" * (8 * MiB))
        os.fsync(fd)
        # Removed through another client while this one has it open.
        os.unlink(other.mountpoint / "open-then-removed")
        assert not (server.export / "open-then-removed").exists()
        os.pwrite(fd, b"still here", 8 * MiB)
        os.fsync(fd)
        assert os.fstat(fd).st_size == 8 * MiB + 10
        assert os.pread(fd, 10, 8 * MiB) == b"still here"
        assert free_bytes(server.export) < before - 7 * MiB, "an open file's blocks must stay while it is open"
    finally:
        os.close(fd)
    # The kernel sends RELEASE just after close(2) returns: allow it a moment.
    for _ in range(100):
        if free_bytes(server.export) >= before - MiB:
            break
        time.sleep(0.05)
    assert free_bytes(server.export) >= before - MiB, "the removed file's space did not return after its last close"
