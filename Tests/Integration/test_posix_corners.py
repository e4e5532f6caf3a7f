"""POSIX corners where a mount must answer exactly as a local filesystem does: each test runs
the same calls in a local directory and on a pohmelfs mount and compares the outcomes.

- a write or truncate by a non-owner clears set-user-ID, and set-group-ID when group-execute
  is set (pjdfstest chmod/12.t);
- link() of a symbolic link, renameat2(RENAME_WHITEOUT), fallocate modes.
"""

from __future__ import annotations

import errno
import os
import stat

import pytest

from posix_helpers import renameat2, run_as, working_directory

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

USER, GROUP = 65534, 65534  # not the owner, not in the file's group


@pytest.fixture
def places(server, mount_factory, tmp_path):
    """(local directory, directory on a mount) that others may use: the same calls run in both."""
    local = tmp_path / "local"
    local.mkdir()
    mount = mount_factory(server, options="allow_other,default_permissions")
    remote = mount.mountpoint / "d"
    remote.mkdir()
    for directory in (local, remote):
        os.chmod(directory, 0o777)
    return local, remote


def _write_as_other(name: str, how: str):
    if how == "write":
        fd = os.open(name, os.O_WRONLY)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
    else:
        os.truncate(name, 1)
    return "ok"


@pytest.mark.parametrize("how", ["write", "truncate"])
@pytest.mark.parametrize("mode", [0o4777, 0o2777, 0o6777, 0o2767, 0o6767, 0o777])
def test_a_non_owner_write_clears_set_id_bits_as_locally(places, mode, how):
    outcomes = []
    for directory in places:
        with open(directory / "f", "wb") as f:
            f.write(b"data")
        os.chmod(directory / "f", mode)
        with working_directory(directory):
            try:
                result = run_as(USER, GROUP, _write_as_other, "f", how)
            except OSError as error:
                result = errno.errorcode[error.errno]
        outcomes.append((result, oct(stat.S_IMODE(os.stat(directory / "f").st_mode)),
                         (directory / "f").read_bytes()))
    local, mounted = outcomes
    assert mounted == local
