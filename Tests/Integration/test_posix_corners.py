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

from conftest import STORES, serve_on_store
from posix_helpers import renameat2, run_as, working_directory

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

USER, GROUP = 65534, 65534  # not the owner, not in the file's group


@pytest.fixture(params=STORES)
def server(request, server_factory, mount_factory):
    """Every test here runs against both stores: a local directory and a CephFS (conftest
    `serve_on_store`; skipped with the reason printed where Ceph cannot start)."""
    return serve_on_store(request, server_factory, mount_factory)


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


# link(), renameat2(RENAME_WHITEOUT), fallocate modes -------------------------------------------

RENAME_WHITEOUT = 1 << 2


def _outcome(function, *args):
    try:
        function(*args)
    except OSError as error:
        return errno.errorcode[error.errno]
    return "ok"


def _link_symlinks():
    os.symlink("target", "dangling")
    with open("file", "wb") as f:
        f.write(b"x")
    os.symlink("file", "good")
    def link(source, name):
        os.link(source, name, follow_symlinks=False)
    results = [_outcome(link, "dangling", "hard-dangling"), _outcome(link, "good", "hard-good")]
    for name in ("hard-dangling", "hard-good"):
        if os.path.lexists(name):
            st = os.lstat(name)
            results.append((name, stat.S_ISLNK(st.st_mode), st.st_nlink, os.readlink(name)))
    return results


@pytest.mark.parametrize("as_user", [False, True], ids=["root", "user"])
def test_a_hard_link_to_a_symbolic_link_works_as_locally(places, as_user):
    outcomes = []
    for directory in places:
        with working_directory(directory):
            outcomes.append(run_as(USER, GROUP, _link_symlinks) if as_user else _link_symlinks())
    local, mounted = outcomes
    assert local[:2] == ["ok", "ok"]
    assert mounted == local


def _whiteout_renames():
    results = []
    for name in ("a", "b", "c"):
        with open(name, "wb") as f:
            f.write(name.encode())
    results.append(_outcome(renameat2, "a", "moved", RENAME_WHITEOUT))
    if os.path.lexists("a"):
        st = os.lstat("a")
        results.append(("a", stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev)))
    results.append(_outcome(renameat2, "b", "c", RENAME_WHITEOUT | 1))  # with NOREPLACE: c exists
    results.append(_outcome(renameat2, "b", "c", RENAME_WHITEOUT | 2))  # with EXCHANGE: invalid
    results.append(sorted(os.listdir(".")))
    return results


@pytest.mark.parametrize("as_user", [False, True], ids=["root", "user"])
def test_rename_whiteout_works_or_fails_as_locally(places, as_user):
    outcomes = []
    for directory in places:
        with working_directory(directory):
            outcomes.append(run_as(USER, GROUP, _whiteout_renames) if as_user else _whiteout_renames())
    local, mounted = outcomes
    assert mounted == local


# COLLAPSE_RANGE and INSERT_RANGE never reach a FUSE filesystem: the kernel's FUSE client answers
# EOPNOTSUPP itself (fs/fuse/file.c), so those two are checked for that answer instead.
KERNEL_REFUSED = {"collapse-range", "insert-range"}
FALLOCATE_MODES = {
    "keep-size": 0x01, "punch-hole": 0x02, "punch-hole|keep-size": 0x03, "no-hide-stale": 0x04,
    "collapse-range": 0x08, "zero-range": 0x10, "zero-range|keep-size": 0x11, "insert-range": 0x20,
    "unshare-range": 0x40, "write-zeroes": 0x80, "unknown": 0x100,
}


def test_fallocate_modes_answer_as_locally(places):
    from posix_helpers import fallocate
    outcomes = []
    for directory in places:
        results = {}
        for label, mode in FALLOCATE_MODES.items():
            path = directory / f"falloc-{mode}"
            path.write_bytes(b"y" * 16384)
            fd = os.open(path, os.O_RDWR)
            try:
                results[label] = (_outcome(fallocate, fd, mode, 4096, 4096), os.fstat(fd).st_size)
            finally:
                os.close(fd)
        outcomes.append(results)
    local, mounted = outcomes
    for label in KERNEL_REFUSED:
        assert mounted.pop(label) == (errno.errorcode[errno.EOPNOTSUPP], 16384)
        local.pop(label)
    assert mounted == local
