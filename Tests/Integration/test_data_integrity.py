"""Data integrity: 256 MiB of random data copied into the mount and back out, with checksums
compared at every step (the local original, the server's file, the copy read back)."""

import os
import shutil

import pytest

from payloads import sha256_of, write_random_file

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

SIZE = 256 << 20




@pytest.mark.timeout_seconds(200)
def test_256_mib_in_and_out_unchanged(mount, tmp_path):
    original = tmp_path / "original"
    # An odd size, so the last transaction is a partial one.
    want = write_random_file(original, SIZE + 4097)
    inside = mount.mountpoint / "big"
    back = tmp_path / "copied-back"
    try:
        shutil.copyfile(original, inside)
        assert os.stat(inside).st_size == SIZE + 4097
        on_server = mount.server.export / "big"
        assert os.stat(on_server).st_size == SIZE + 4097
        assert sha256_of(on_server) == want, "the server's copy differs from the original"
        shutil.copyfile(inside, back)
        assert sha256_of(back) == want, "the copy read back through the mount differs from the original"
    finally:
        for path in (original, back, inside):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
