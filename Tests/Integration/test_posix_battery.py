"""The POSIX battery: every operation of `pohmelfs mount` against a real mount, with its error
cases, checked through the mount and, where it matters, on the server's side (`server.export`).

Each test gets a fresh server and mount (the `mount` fixture). Modes are chosen so the default
umask (022) does not change them.
"""

import errno
import mmap
import os
import socket
import stat
import time

import pytest

from conftest import STORES, serve_on_store
from posix_helpers import (
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    assert_bytes_equal,
    expect_errno,
    fallocate,
    getxattr_sized,
    listxattr_size,
    pattern,
    pwrite_all,
    read_all,
    renameat2,
    run_as,
    working_directory,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

USER, GROUP = 1000, 1000  # the unprivileged identity the ownership tests drop to
TEAM = 2000  # a supplementary group


@pytest.fixture(params=STORES)
def server(request, server_factory, mount_factory):
    """Every test here runs against both stores: a local directory and a CephFS (conftest
    `serve_on_store`; skipped with the reason printed where Ceph cannot start)."""
    return serve_on_store(request, server_factory, mount_factory)


def server_path(mount, *parts):
    return mount.server.export.joinpath(*parts)


# create, open, read, write, close ---------------------------------------------------------------


def test_create_write_read_close(mount):
    path = mount.mountpoint / "file"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o640)
    try:
        assert os.write(fd, b"hello, pohmelfs") == 15
        assert os.pread(fd, 100, 0) == b"hello, pohmelfs"
        assert os.pread(fd, 5, 7) == b"pohme"
        assert os.pread(fd, 10, 15) == b""  # at end of file
        assert os.pread(fd, 10, 1000) == b""  # past it
        assert os.fstat(fd).st_size == 15
    finally:
        os.close(fd)
    st = os.stat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_size == 15 and st.st_nlink == 1
    assert read_all(path) == b"hello, pohmelfs"
    on_server = os.stat(server_path(mount, "file"))
    assert stat.S_IMODE(on_server.st_mode) == 0o640 and on_server.st_size == 15
    assert server_path(mount, "file").read_bytes() == b"hello, pohmelfs"


def test_open_flags_and_their_errors(mount):
    root = mount.mountpoint
    (root / "dir").mkdir()
    (root / "file").write_bytes(b"0123456789")

    expect_errno(errno.ENOENT, os.open, root / "missing", os.O_RDONLY)
    expect_errno(errno.ENOENT, os.open, root / "nodir" / "file", os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.EEXIST, os.open, root / "file", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    expect_errno(errno.EEXIST, os.open, root / "dir", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    expect_errno(errno.EISDIR, os.open, root / "dir", os.O_WRONLY)
    expect_errno(errno.EISDIR, os.open, root / "dir", os.O_RDWR)
    expect_errno(errno.ENOTDIR, os.open, root / "file", os.O_RDONLY | os.O_DIRECTORY)
    expect_errno(errno.ENOTDIR, os.open, root / "file" / "below", os.O_RDONLY)
    expect_errno(errno.ENOTDIR, os.open, root / "file" / "below", os.O_CREAT | os.O_WRONLY, 0o644)

    # O_TRUNC empties, O_CREAT without O_EXCL opens the existing file.
    fd = os.open(root / "file", os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    assert (root / "file").read_bytes() == b"0123456789"
    fd = os.open(root / "file", os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert os.stat(root / "file").st_size == 0
    assert server_path(mount, "file").stat().st_size == 0

    # Access modes are enforced on the descriptor.
    fd = os.open(root / "file", os.O_RDONLY)
    try:
        expect_errno(errno.EBADF, os.write, fd, b"x")
    finally:
        os.close(fd)
    fd = os.open(root / "file", os.O_WRONLY)
    try:
        expect_errno(errno.EBADF, os.read, fd, 1)
    finally:
        os.close(fd)


def test_an_unlinked_open_file_stays_readable_and_writable(mount):
    path = mount.mountpoint / "doomed"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"still here")
        os.unlink(path)
        assert not path.exists()
        assert not server_path(mount, "doomed").exists()
        assert os.pread(fd, 100, 0) == b"still here"
        pwrite_all(fd, b"!", 10)
        assert os.pread(fd, 100, 0) == b"still here!"
        assert os.fstat(fd).st_nlink == 0
    finally:
        os.close(fd)


def test_fsync_and_fdatasync_on_files_and_directories(mount):
    path = mount.mountpoint / "durable"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"data")
        os.fsync(fd)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    assert server_path(mount, "durable").read_bytes() == b"data"
    dfd = os.open(mount.mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# Directories --------------------------------------------------------------------------------------


def test_mkdir_rmdir_and_their_errors(mount):
    root = mount.mountpoint
    os.mkdir(root / "d", 0o750)
    st = os.stat(root / "d")
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750
    assert st.st_nlink == 2
    assert server_path(mount, "d").is_dir()
    (root / "file").write_bytes(b"x")

    expect_errno(errno.EEXIST, os.mkdir, root / "d")
    expect_errno(errno.EEXIST, os.mkdir, root / "file")
    expect_errno(errno.ENOENT, os.mkdir, root / "missing" / "d")
    expect_errno(errno.ENOTDIR, os.mkdir, root / "file" / "d")

    os.mkdir(root / "d" / "sub")
    assert os.stat(root / "d").st_nlink == 3
    expect_errno(errno.ENOTEMPTY, os.rmdir, root / "d")
    expect_errno(errno.ENOTDIR, os.rmdir, root / "file")
    expect_errno(errno.ENOENT, os.rmdir, root / "missing")
    expect_errno(errno.EISDIR, os.unlink, root / "d")
    expect_errno(errno.EINVAL, os.rmdir, f"{root}/d/sub/.")  # a string: pathlib drops a trailing "."

    os.rmdir(root / "d" / "sub")
    os.rmdir(root / "d")
    assert not (root / "d").exists()
    assert not server_path(mount, "d").exists()


def test_errors_the_server_decides_reach_the_caller(mount):
    """The kernel knows nothing about a name created on the server behind its back (or has a
    negative entry for it): the server's EEXIST / ENOTEMPTY must arrive unchanged."""
    root = mount.mountpoint
    expect_errno(errno.ENOENT, os.stat, root / "late")  # a negative entry in the kernel now
    os.mkdir(server_path(mount, "late"))
    (server_path(mount, "late") / "inside").write_bytes(b"x")
    with pytest.raises(OSError) as failure:
        os.mkdir(root / "late")
    assert failure.value.errno == errno.EEXIST
    expect_errno(errno.ENOTEMPTY, os.rmdir, root / "late")


def test_readdir_lists_every_entry_once_with_types(mount):
    root = mount.mountpoint
    os.mkdir(root / "big")
    names = {f"entry-{i:05d}-{'x' * (i % 40)}" for i in range(1500)}
    for name in names:
        os.mknod(root / "big" / name, stat.S_IFREG | 0o644)
    os.mkdir(root / "big" / "a-directory")
    os.symlink("target", root / "big" / "a-symlink")
    listed = os.listdir(root / "big")
    assert len(listed) == len(set(listed)), "an entry was listed twice"
    assert set(listed) == names | {"a-directory", "a-symlink"}
    with os.scandir(root / "big") as entries:
        kinds = {e.name: (e.is_dir(follow_symlinks=False), e.is_symlink(), e.is_file(follow_symlinks=False))
                 for e in entries}
    assert kinds["a-directory"] == (True, False, False)
    assert kinds["a-symlink"] == (False, True, False)
    assert all(kinds[name] == (False, False, True) for name in names)
    assert os.listdir(root) == ["big"]


def test_files_listed_by_readdir_can_be_opened(mount):
    """`ls` then `cat`: readdirplus hands the kernel handles the server has not opened yet
    (files made on the server's side, here), and every later operation must accept them."""
    export = mount.server.export
    (export / "dir").mkdir()
    for i in range(20):
        (export / f"file-{i}").write_bytes(f"content {i}".encode())
        (export / "dir" / f"inner-{i}").write_bytes(f"inner {i}".encode())
    assert len(os.listdir(mount.mountpoint)) == 21
    assert len(os.listdir(mount.mountpoint / "dir")) == 20
    for i in range(20):
        assert (mount.mountpoint / f"file-{i}").read_bytes() == f"content {i}".encode()
        with open(mount.mountpoint / "dir" / f"inner-{i}", "r+b") as f:
            f.write(b"INNER")
        os.chmod(mount.mountpoint / f"file-{i}", 0o600)
    assert (export / "dir" / "inner-7").read_bytes() == b"INNER 7"
    assert stat.S_IMODE(os.stat(export / "file-3").st_mode) == 0o600


def test_names_are_bytes_not_text(mount):
    root = os.fsencode(mount.mountpoint)
    names = [b"with space", b"new\nline", b"\xff\xfe not utf-8", "ünïcödé ✓".encode(), b"-leading-dash", b"..."]
    for name in names:
        with open(os.path.join(root, name), "wb") as f:
            f.write(name)
    assert sorted(os.listdir(root)) == sorted(names)
    assert sorted(os.listdir(os.fsencode(mount.server.export))) == sorted(names)
    for name in names:
        assert read_all(os.path.join(root, name)) == name


# unlink -------------------------------------------------------------------------------------------


def test_unlink_and_its_errors(mount):
    root = mount.mountpoint
    (root / "file").write_bytes(b"x")
    (root / "dir").mkdir()
    os.unlink(root / "file")
    assert not (root / "file").exists() and not server_path(mount, "file").exists()
    expect_errno(errno.ENOENT, os.unlink, root / "file")
    expect_errno(errno.EISDIR, os.unlink, root / "dir")
    expect_errno(errno.ENOENT, os.unlink, root / "dir" / "nothing")
    (root / "other").write_bytes(b"y")
    expect_errno(errno.ENOTDIR, os.unlink, root / "other" / "below")
    os.symlink("file-that-is-not-there", root / "dangling")
    os.unlink(root / "dangling")  # removes the link, never follows it
    assert not os.path.lexists(root / "dangling")


# rename -------------------------------------------------------------------------------------------


def test_rename_plain_keeps_inode_and_content(mount):
    root = mount.mountpoint
    (root / "a").write_bytes(b"content of a")
    (root / "dir").mkdir()
    inode = os.stat(root / "a").st_ino
    os.rename(root / "a", root / "b")
    assert not (root / "a").exists() and (root / "b").read_bytes() == b"content of a"
    assert os.stat(root / "b").st_ino == inode
    os.rename(root / "b", root / "dir" / "c")  # to another directory
    assert os.stat(root / "dir" / "c").st_ino == inode
    assert server_path(mount, "dir", "c").read_bytes() == b"content of a"
    assert not server_path(mount, "b").exists()
    # A directory moves with its contents.
    os.rename(root / "dir", root / "moved")
    assert (root / "moved" / "c").read_bytes() == b"content of a"
    assert server_path(mount, "moved", "c").read_bytes() == b"content of a"


def test_rename_over_an_existing_file_replaces_it(mount):
    root = mount.mountpoint
    (root / "new").write_bytes(b"the new content")
    (root / "old").write_bytes(b"the old content, longer")
    moved = os.stat(root / "new").st_ino
    # An open descriptor of the replaced file keeps its data.
    with open(root / "old", "rb") as replaced:
        os.rename(root / "new", root / "old")
        assert replaced.read() == b"the old content, longer"
    assert not (root / "new").exists()
    st = os.stat(root / "old")
    assert st.st_ino == moved and st.st_size == len(b"the new content") and st.st_nlink == 1
    assert (root / "old").read_bytes() == b"the new content"
    assert server_path(mount, "old").read_bytes() == b"the new content"
    assert sorted(os.listdir(mount.server.export)) == ["old"]


def test_rename_errors(mount):
    root = mount.mountpoint
    (root / "file").write_bytes(b"f")
    os.makedirs(root / "full" / "inside")
    (root / "empty").mkdir()
    (root / "dir").mkdir()
    expect_errno(errno.ENOENT, os.rename, root / "missing", root / "x")
    expect_errno(errno.ENOENT, os.rename, root / "file", root / "missing" / "x")
    expect_errno(errno.ENOTEMPTY, os.rename, root / "dir", root / "full")
    expect_errno(errno.EISDIR, os.rename, root / "file", root / "dir")
    expect_errno(errno.ENOTDIR, os.rename, root / "dir", root / "file")
    expect_errno(errno.EINVAL, os.rename, root / "full", root / "full" / "inside" / "deeper")
    # A directory may replace an empty one.
    os.rename(root / "dir", root / "empty")
    assert not (root / "dir").exists() and (root / "empty").is_dir()
    assert sorted(os.listdir(mount.server.export)) == ["empty", "file", "full"]


def test_rename_noreplace(mount):
    root = mount.mountpoint
    (root / "a").write_bytes(b"A")
    (root / "b").write_bytes(b"B")
    expect_errno(errno.EEXIST, renameat2, root / "a", root / "b", RENAME_NOREPLACE)
    assert (root / "a").read_bytes() == b"A" and (root / "b").read_bytes() == b"B"
    assert server_path(mount, "b").read_bytes() == b"B"
    renameat2(root / "a", root / "c", RENAME_NOREPLACE)
    assert not (root / "a").exists() and (root / "c").read_bytes() == b"A"
    assert sorted(os.listdir(mount.server.export)) == ["b", "c"]


def test_rename_exchange(mount):
    root = mount.mountpoint
    (root / "a").write_bytes(b"content A")
    (root / "dir").mkdir()
    (root / "dir" / "inside").write_bytes(b"in dir")
    inode_a, inode_dir = os.stat(root / "a").st_ino, os.stat(root / "dir").st_ino
    (root / "b").write_bytes(b"content B, longer")
    inode_b = os.stat(root / "b").st_ino

    renameat2(root / "a", root / "b", RENAME_EXCHANGE)
    assert (root / "a").read_bytes() == b"content B, longer"
    assert (root / "b").read_bytes() == b"content A"
    assert os.stat(root / "a").st_ino == inode_b and os.stat(root / "b").st_ino == inode_a
    assert server_path(mount, "a").read_bytes() == b"content B, longer"
    assert server_path(mount, "b").read_bytes() == b"content A"

    # A file and a directory may be exchanged too.
    renameat2(root / "a", root / "dir", RENAME_EXCHANGE)
    assert (root / "a" / "inside").read_bytes() == b"in dir"
    assert (root / "dir").read_bytes() == b"content B, longer"
    assert os.stat(root / "a").st_ino == inode_dir
    assert server_path(mount, "a", "inside").read_bytes() == b"in dir"

    expect_errno(errno.ENOENT, renameat2, root / "b", root / "missing", RENAME_EXCHANGE)
    expect_errno(errno.EINVAL, renameat2, root / "b", root / "dir", RENAME_EXCHANGE | RENAME_NOREPLACE)


# link, symlink, readlink ------------------------------------------------------------------------


def test_hard_link_shares_the_inode(mount):
    root = mount.mountpoint
    (root / "dir").mkdir()
    (root / "first").write_bytes(b"shared bytes")
    os.link(root / "first", root / "dir" / "second")
    first, second = os.stat(root / "first"), os.stat(root / "dir" / "second")
    assert first.st_ino == second.st_ino
    assert first.st_nlink == 2 and second.st_nlink == 2
    on_server = os.stat(server_path(mount, "first")), os.stat(server_path(mount, "dir", "second"))
    assert on_server[0].st_ino == on_server[1].st_ino and on_server[0].st_nlink == 2

    # One file: a write through one name is read through the other.
    with open(root / "first", "r+b") as f:
        f.write(b"SHARED")
    assert (root / "dir" / "second").read_bytes() == b"SHARED bytes"

    # Rename changes no inode number; unlinking one name leaves the other with one link.
    os.rename(root / "dir" / "second", root / "third")
    assert os.stat(root / "third").st_ino == first.st_ino
    os.unlink(root / "first")
    third = os.stat(root / "third")
    assert third.st_ino == first.st_ino and third.st_nlink == 1
    assert os.stat(server_path(mount, "third")).st_nlink == 1

    expect_errno(errno.EEXIST, os.link, root / "third", root / "dir")
    expect_errno(errno.ENOENT, os.link, root / "missing", root / "x")
    expect_errno(errno.EPERM, os.link, root / "dir", root / "dir-link")


def test_inode_numbers_are_stable_across_remounts(server, mount_factory):
    first = mount_factory(server)
    (first.mountpoint / "f").write_bytes(b"x")
    os.mkdir(first.mountpoint / "d")
    inodes = {n: os.stat(first.mountpoint / n).st_ino for n in ("f", "d")}
    first.unmount()
    second = mount_factory(server)
    assert {n: os.stat(second.mountpoint / n).st_ino for n in ("f", "d")} == inodes


def test_symlink_and_readlink(mount):
    root = mount.mountpoint
    (root / "real").write_bytes(b"through the link")
    os.symlink("real", root / "rel")
    os.symlink("/nonexistent/absolute/target", root / "dangling")
    long_target = "t" * 4095  # PATH_MAX - 1
    os.symlink(long_target, root / "long")

    assert os.readlink(root / "rel") == "real"
    assert os.readlink(root / "dangling") == "/nonexistent/absolute/target"
    assert os.readlink(root / "long") == long_target
    st = os.lstat(root / "rel")
    assert stat.S_ISLNK(st.st_mode) and st.st_size == 4
    assert (root / "rel").read_bytes() == b"through the link"
    assert os.readlink(server_path(mount, "dangling")) == "/nonexistent/absolute/target"
    assert os.readlink(server_path(mount, "long")) == long_target

    expect_errno(errno.EEXIST, os.symlink, "x", root / "rel")
    expect_errno(errno.EINVAL, os.readlink, root / "real")
    expect_errno(errno.ENOENT, os.stat, root / "dangling")
    expect_errno(errno.ENOENT, os.readlink, root / "missing")


# mknod: fifos, sockets, devices --------------------------------------------------------------


def test_mkfifo_makes_a_working_fifo(mount):
    path = mount.mountpoint / "fifo"
    os.mkfifo(path, 0o640)
    st = os.stat(path)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    assert stat.S_ISFIFO(os.stat(server_path(mount, "fifo")).st_mode)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(writer, b"through the fifo")
            assert os.read(reader, 100) == b"through the fifo"
        finally:
            os.close(writer)
    finally:
        os.close(reader)
    expect_errno(errno.EEXIST, os.mkfifo, path)


def test_unix_socket_binds_and_connects(mount):
    with working_directory(mount.mountpoint):  # relative name: sun_path is only 108 bytes
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind("sock")
            listener.listen(1)
            assert stat.S_ISSOCK(os.stat("sock").st_mode)
            assert stat.S_ISSOCK(os.stat(server_path(mount, "sock")).st_mode)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect("sock")
                accepted, _ = listener.accept()
                with accepted:
                    client.sendall(b"ping")
                    assert accepted.recv(4) == b"ping"
        finally:
            listener.close()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as again:
            expect_errno(errno.EADDRINUSE, again.bind, "sock")


@pytest.mark.parametrize("kind,device", [(stat.S_IFCHR, (1, 3)), (stat.S_IFBLK, (7, 200))])
def test_device_nodes(mount, kind, device):
    path = mount.mountpoint / "dev"
    os.mknod(path, kind | 0o600, os.makedev(*device))
    for st in (os.stat(path), os.stat(server_path(mount, "dev"))):
        assert stat.S_IFMT(st.st_mode) == kind
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == device
        assert stat.S_IMODE(st.st_mode) == 0o600
    expect_errno(errno.EEXIST, os.mknod, path, kind | 0o600, os.makedev(*device))


def test_mknod_regular_file(mount):
    os.mknod(mount.mountpoint / "plain", stat.S_IFREG | 0o604)
    st = os.stat(mount.mountpoint / "plain")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o604 and st.st_size == 0


# Attributes: chmod, chown, truncate, utimensat ----------------------------------------------


def test_chmod_and_chown(mount):
    path = mount.mountpoint / "file"
    path.write_bytes(b"x")
    os.chmod(path, 0o4751)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o4751
    os.chown(path, USER, GROUP)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (USER, GROUP)
    on_server = os.stat(server_path(mount, "file"))
    assert (on_server.st_uid, on_server.st_gid) == (USER, GROUP)
    os.chown(path, -1, 0)
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (USER, 0)
    expect_errno(errno.ENOENT, os.chmod, mount.mountpoint / "missing", 0o600)


def test_truncate_and_ftruncate(mount):
    path = mount.mountpoint / "file"
    data = pattern(1, 100_000)
    path.write_bytes(data)
    os.truncate(path, 50_001)
    assert path.read_bytes() == data[:50_001]
    os.truncate(path, 200_000)  # grows with zeros
    assert_bytes_equal("after growing", path.read_bytes(), data[:50_001] + bytes(149_999))
    assert server_path(mount, "file").stat().st_size == 200_000
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, 3)
        assert os.fstat(fd).st_size == 3
        assert os.pread(fd, 10, 0) == data[:3]
        os.ftruncate(fd, 0)
        assert os.pread(fd, 10, 0) == b""
    finally:
        os.close(fd)
    assert server_path(mount, "file").stat().st_size == 0

    expect_errno(errno.EISDIR, os.truncate, mount.mountpoint, 0)
    expect_errno(errno.EINVAL, os.truncate, path, -1)
    expect_errno(errno.ENOENT, os.truncate, mount.mountpoint / "missing", 0)
    fd = os.open(path, os.O_RDONLY)
    try:
        expect_errno(errno.EINVAL, os.ftruncate, fd, 10)  # not open for writing
    finally:
        os.close(fd)


def test_utimensat_keeps_nanoseconds(server, mount_factory):
    mount = mount_factory(server)
    root = mount.mountpoint
    (root / "file").write_bytes(b"x")
    (root / "dir").mkdir()
    os.symlink("file", root / "link")
    times = {
        "file": (1_234_567_890_123_456_789, 1_500_000_000_000_000_001),
        "dir": (1_000_000_000_999_999_999, 1_700_000_000_000_000_007),
        "link": (1_111_111_111_111_111_111, 1_222_222_222_222_222_223),
    }
    for name, (atime, mtime) in times.items():
        os.utime(root / name, ns=(atime, mtime), follow_symlinks=False)
    for name, (atime, mtime) in times.items():
        for where in (root / name, server_path(mount, name)):
            st = os.stat(where, follow_symlinks=False)
            assert (st.st_atime_ns, st.st_mtime_ns) == (atime, mtime), (where, st)
    # Before 1970: negative seconds with positive nanoseconds.
    os.utime(root / "file", ns=(-1_000_000_001, -123_456_789))
    assert (os.stat(root / "file").st_atime_ns, os.stat(root / "file").st_mtime_ns) == (-1_000_000_001, -123_456_789)
    st = os.stat(server_path(mount, "file"))
    assert (st.st_atime_ns, st.st_mtime_ns) == (-1_000_000_001, -123_456_789)

    # A fresh mount reads them from the server, unchanged.
    os.utime(root / "file", ns=times["file"])
    mount.unmount()
    again = mount_factory(server)
    st = os.stat(again.mountpoint / "file")
    assert (st.st_atime_ns, st.st_mtime_ns) == times["file"]

    # UTIME_NOW.
    before = time.time_ns()
    os.utime(again.mountpoint / "file")
    st = os.stat(again.mountpoint / "file")
    assert before - 2_000_000_000 <= st.st_mtime_ns <= time.time_ns() + 2_000_000_000


def test_write_updates_size_and_mtime(mount):
    path = mount.mountpoint / "file"
    path.write_bytes(b"")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    with open(path, "ab") as f:
        f.write(b"12345")
    st = os.stat(path)
    assert st.st_size == 5
    assert st.st_mtime_ns > 1_000_000_000


# fallocate, copy_file_range -----------------------------------------------------------------------


def test_fallocate_modes(mount):
    path = mount.mountpoint / "file"
    model = bytearray(pattern(2, 1 << 20))
    path.write_bytes(model)
    fd = os.open(path, os.O_RDWR)
    try:
        # Plain allocation extends the file with zeros.
        fallocate(fd, 0, 1 << 20, 1 << 20)
        model += bytes(1 << 20)
        assert os.fstat(fd).st_size == 2 << 20
        # KEEP_SIZE beyond the end allocates without changing the size.
        blocks = os.stat(server_path(mount, "file")).st_blocks
        fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 << 20, 1 << 20)
        assert os.fstat(fd).st_size == 2 << 20
        assert os.stat(server_path(mount, "file")).st_blocks >= blocks + (1 << 20) // 512
        # PUNCH_HOLE (with KEEP_SIZE, as Linux requires) zeroes and frees.
        blocks = os.stat(server_path(mount, "file")).st_blocks
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 64 << 10, 128 << 10)
        model[64 << 10:192 << 10] = bytes(128 << 10)
        assert os.stat(server_path(mount, "file")).st_blocks <= blocks - (128 << 10) // 512
        # An unaligned punch zeroes exactly its bytes.
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 300_001, 12_345)
        model[300_001:312_346] = bytes(12_345)
        # ZERO_RANGE, unaligned, inside the file.
        fallocate(fd, FALLOC_FL_ZERO_RANGE, 500_003, 77_777)
        model[500_003:577_780] = bytes(77_777)
        assert os.fstat(fd).st_size == 2 << 20
        assert_bytes_equal("through the mount", os.pread(fd, 4 << 20, 0), bytes(model))
        # ZERO_RANGE past the end without KEEP_SIZE extends the file.
        fallocate(fd, FALLOC_FL_ZERO_RANGE, (2 << 20) + 10, 1000)
        model += bytes(1010)
        assert os.fstat(fd).st_size == len(model)

        expect_errno(errno.EOPNOTSUPP, fallocate, fd, FALLOC_FL_PUNCH_HOLE, 0, 4096)
        expect_errno(errno.EINVAL, fallocate, fd, 0, 0, 0)
    finally:
        os.close(fd)
    assert_bytes_equal("through the mount, reopened", path.read_bytes(), bytes(model))
    assert_bytes_equal("on the server", server_path(mount, "file").read_bytes(), bytes(model))
    fd = os.open(path, os.O_RDONLY)
    try:
        expect_errno(errno.EBADF, fallocate, fd, 0, 0, 4096)
    finally:
        os.close(fd)


def copy_range(src_fd, dst_fd, count, src_offset, dst_offset):
    """os.copy_file_range until `count` bytes are copied or it returns 0 (end of source)."""
    done = 0
    while done < count:
        n = os.copy_file_range(src_fd, dst_fd, count - done, src_offset + done, dst_offset + done)
        if n == 0:
            break
        done += n
    return done


def test_copy_file_range(mount):
    root = mount.mountpoint
    source = pattern(3, (3 << 20) + 123)
    (root / "src").write_bytes(source)
    (root / "dst").write_bytes(b"")
    src = os.open(root / "src", os.O_RDONLY)
    dst = os.open(root / "dst", os.O_RDWR)
    try:
        model = bytearray()
        # Unaligned offsets, into an empty file past its end (the gap reads as zeros).
        assert copy_range(src, dst, (2 << 20) + 7, 1001, 5) == (2 << 20) + 7
        model += bytes(5) + source[1001:1001 + (2 << 20) + 7]
        # Into the middle of existing data.
        assert copy_range(src, dst, 4099, 17, 100_000) == 4099
        model[100_000:104_099] = source[17:4116]
        # Within one file, non-overlapping.
        assert copy_range(dst, dst, 5000, 0, len(model) + 3) == 5000
        model += bytes(3) + model[0:5000]
        # Past the source's end: only what exists.
        assert copy_range(src, dst, 1 << 20, len(source) - 10, 0) == 10
        model[0:10] = source[-10:]
        assert os.fstat(dst).st_size == len(model)
        assert_bytes_equal("through the mount", os.pread(dst, len(model) + 10, 0), bytes(model))
        expect_errno(errno.EINVAL, os.copy_file_range, dst, dst, 100, 0, 50)  # overlapping
    finally:
        os.close(src)
        os.close(dst)
    assert_bytes_equal("reopened", (root / "dst").read_bytes(), bytes(model))
    assert_bytes_equal("on the server", server_path(mount, "dst").read_bytes(), bytes(model))


# statvfs, access, xattrs ----------------------------------------------------------------------


def test_statvfs_reflects_the_export(mount):
    ours, theirs = os.statvfs(mount.mountpoint), os.statvfs(mount.server.export)
    assert ours.f_namemax == 255
    assert ours.f_bsize > 0 and ours.f_frsize > 0
    total_ours, total_theirs = ours.f_blocks * ours.f_frsize, theirs.f_blocks * theirs.f_frsize
    assert abs(total_ours - total_theirs) <= total_theirs // 100, (ours, theirs)
    free_ours, free_theirs = ours.f_bavail * ours.f_frsize, theirs.f_bavail * theirs.f_frsize
    assert abs(free_ours - free_theirs) <= max(total_theirs // 100, 64 << 20), (ours, theirs)
    assert ours.f_files == theirs.f_files
    expect_errno(errno.ENOENT, os.statvfs, mount.mountpoint / "missing")


def test_access(mount):
    root = mount.mountpoint
    (root / "plain").write_bytes(b"x")
    os.chmod(root / "plain", 0o644)
    (root / "script").write_bytes(b"#!/bin/sh\n")
    os.chmod(root / "script", 0o755)
    assert os.access(root / "plain", os.F_OK | os.R_OK | os.W_OK)
    assert not os.access(root / "plain", os.X_OK)  # not even root may execute without an x bit
    assert os.access(root / "script", os.X_OK)
    assert os.access(root, os.R_OK | os.W_OK | os.X_OK)
    assert not os.access(root / "missing", os.F_OK)


def test_xattrs(mount):
    path = mount.mountpoint / "file"
    path.write_bytes(b"x")
    value = pattern(4, 3000)
    os.setxattr(path, "user.small", b"v")
    os.setxattr(path, "user.big", value)
    os.setxattr(path, "user.empty", b"")
    assert os.getxattr(path, "user.small") == b"v"
    assert os.getxattr(path, "user.big") == value
    assert os.getxattr(path, "user.empty") == b""
    assert {"user.small", "user.big", "user.empty"} <= set(os.listxattr(path))
    assert os.getxattr(server_path(mount, "file"), "user.big") == value

    # Size queries and a buffer too small.
    assert getxattr_sized(path, "user.big", 0) == 3000
    assert getxattr_sized(path, "user.big", 3000) == value
    expect_errno(errno.ERANGE, getxattr_sized, path, "user.big", 100)
    assert listxattr_size(path) >= len("user.small\0user.big\0user.empty\0")

    # Flags.
    expect_errno(errno.EEXIST, os.setxattr, path, "user.small", b"w", os.XATTR_CREATE)
    expect_errno(errno.ENODATA, os.setxattr, path, "user.absent", b"w", os.XATTR_REPLACE)
    os.setxattr(path, "user.small", b"replaced", os.XATTR_REPLACE)
    assert os.getxattr(path, "user.small") == b"replaced"

    os.removexattr(path, "user.small")
    expect_errno(errno.ENODATA, os.getxattr, path, "user.small")
    expect_errno(errno.ENODATA, os.removexattr, path, "user.small")
    expect_errno(errno.ENODATA, os.getxattr, path, "user.never-set")
    assert "user.small" not in os.listxattr(path)
    assert "user.small" not in os.listxattr(server_path(mount, "file"))
    expect_errno(errno.ENOENT, os.getxattr, mount.mountpoint / "missing", "user.small")

    # Directories carry xattrs too.
    os.setxattr(mount.mountpoint, "user.on-root", b"root value")
    assert os.getxattr(mount.mountpoint, "user.on-root") == b"root value"


# Names and paths ----------------------------------------------------------------------------------


def test_255_byte_names_work_and_256_byte_names_do_not(mount):
    root = mount.mountpoint
    long_ascii = "n" * 255
    long_utf8 = "é" * 127 + "a"  # 255 bytes in UTF-8
    assert len(long_utf8.encode()) == 255
    (root / long_ascii).write_bytes(b"ascii")
    os.mkdir(root / long_utf8)
    os.symlink("../" + long_ascii, root / long_utf8 / ("s" * 255))
    os.link(root / long_ascii, root / long_utf8 / ("h" * 255))
    assert (root / long_utf8 / ("s" * 255)).read_bytes() == b"ascii"
    assert (root / long_utf8 / ("h" * 255)).read_bytes() == b"ascii"
    assert set(os.listdir(root)) == {long_ascii, long_utf8}
    assert set(os.listdir(mount.server.export)) == {long_ascii, long_utf8}
    os.rename(root / long_ascii, root / ("r" * 255))
    assert (root / ("r" * 255)).read_bytes() == b"ascii"

    too_long = "x" * 256
    expect_errno(errno.ENAMETOOLONG, os.open, root / too_long, os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.ENAMETOOLONG, os.stat, root / too_long)
    expect_errno(errno.ENAMETOOLONG, os.mkdir, root / too_long)
    expect_errno(errno.ENAMETOOLONG, os.mkfifo, root / too_long)
    expect_errno(errno.ENAMETOOLONG, os.symlink, "target", root / too_long)
    expect_errno(errno.ENAMETOOLONG, os.link, root / ("r" * 255), root / too_long)
    expect_errno(errno.ENAMETOOLONG, os.rename, root / ("r" * 255), root / too_long)
    expect_errno(errno.ENAMETOOLONG, os.open, root / ("é" * 128), os.O_CREAT | os.O_WRONLY, 0o644)
    assert set(os.listdir(mount.server.export)) == {"r" * 255, long_utf8}


def test_a_path_close_to_path_max(mount):
    root = str(mount.mountpoint)
    path, components = root, []
    while len(path) + 1 + 250 + 1 + 10 < 4095:
        components.append("d" * 250)
        path = path + "/" + components[-1]
        os.mkdir(path)
    name = "f" * (4095 - len(path) - 1)  # the whole path is exactly PATH_MAX - 1 bytes
    path = path + "/" + name
    assert len(path.encode()) == 4095
    with open(path, "wb") as f:
        f.write(b"deep")
    assert read_all(path) == b"deep"
    assert os.stat(path).st_size == 4
    os.rename(path, path[:-1] + "g")
    assert read_all(path[:-1] + "g") == b"deep"
    expect_errno(errno.ENAMETOOLONG, os.open, path + "x", os.O_CREAT | os.O_WRONLY, 0o644)
    # On the server, walked with directory descriptors (its absolute path differs in length).
    fd = os.open(mount.server.export, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for component in components:
            next_fd = os.open(component, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        assert os.stat(name[:-1] + "g", dir_fd=fd).st_size == 4
    finally:
        os.close(fd)


# Ownership and permissions as a non-root user ---------------------------------------------


@pytest.fixture(params=["allow_other", "allow_other,default_permissions"])
def shared_mount(request, server, mount_factory):
    """A mount other users may use (allow_other); permissions checked by the server alone, or
    by the kernel as well (default_permissions)."""
    return mount_factory(server, options=request.param)


def _create_as_user():
    os.mkdir("shared/udir", 0o755)
    with open("shared/ufile", "wb") as f:
        f.write(b"mine")
    os.symlink("ufile", "shared/ulink")
    os.mkfifo("shared/ufifo", 0o644)
    os.mknod("shared/unode", stat.S_IFREG | 0o644)
    return {name: (os.lstat(f"shared/{name}").st_uid, os.lstat(f"shared/{name}").st_gid)
            for name in ("udir", "ufile", "ulink", "ufifo", "unode")}


def test_files_are_owned_by_their_creator(shared_mount):
    mount = shared_mount
    os.mkdir(mount.mountpoint / "shared")
    os.chmod(mount.mountpoint / "shared", 0o1777)
    with working_directory(mount.mountpoint):  # the path above the mount is root's alone
        seen_by_user = run_as(USER, GROUP, _create_as_user)
    assert set(seen_by_user.values()) == {(USER, GROUP)}, seen_by_user
    for name in seen_by_user:
        st = os.lstat(server_path(mount, "shared", name))
        assert (st.st_uid, st.st_gid) == (USER, GROUP), (name, st)
        st = os.lstat(mount.mountpoint / "shared" / name)
        assert (st.st_uid, st.st_gid) == (USER, GROUP), (name, st)


def _denied_operations():
    """Every operation here must fail; returns {operation: errno}."""
    results = {}

    def attempt(label, function, *args, **kwargs):
        try:
            function(*args, **kwargs)
        except OSError as e:
            results[label] = e.errno
        else:
            results[label] = 0

    attempt("listdir private", os.listdir, "private")
    attempt("stat in private", os.stat, "private/inside")
    attempt("create in private", os.open, "private/new", os.O_CREAT | os.O_WRONLY, 0o644)
    attempt("read secret", os.open, "secret", os.O_RDONLY)
    attempt("write secret", os.open, "secret", os.O_WRONLY)
    attempt("truncate secret", os.truncate, "secret", 0)
    attempt("create in root dir", os.open, "new-file", os.O_CREAT | os.O_WRONLY, 0o644)
    attempt("mkdir in root dir", os.mkdir, "new-dir")
    attempt("unlink in root dir", os.unlink, "secret")
    attempt("rename in root dir", os.rename, "secret", "renamed")
    attempt("chmod root's file", os.chmod, "secret", 0o666)
    attempt("chown root's file", os.chown, "secret", USER, GROUP)
    attempt("utime root's file to a time", os.utime, "secret", ns=(1, 1))
    attempt("utime root's file to now", os.utime, "secret")
    attempt("setxattr on root's file", os.setxattr, "secret", "user.x", b"1")
    attempt("unlink root's file in a sticky dir", os.unlink, "shared/roots")
    results["access R_OK secret"] = 0 if os.access("secret", os.R_OK) else errno.EACCES
    # And what is allowed still works: reading a world-readable file.
    with open("public", "rb") as f:
        results["read public"] = 0 if f.read() == b"public" else -1
    return results


def test_permissions_hold_for_a_non_root_user(shared_mount):
    mount = shared_mount
    root = mount.mountpoint
    # Made on the server's side, so no dentry of root's is cached in the kernel: without
    # default_permissions the kernel never asks the server about searching a directory, so a
    # name root looked up within the last entry_timeout is reachable by anyone until it expires
    # (FUSE's design, not the server's; default_permissions closes that window).
    os.mkdir(server_path(mount, "private"), 0o700)
    server_path(mount, "private", "inside").write_bytes(b"hidden")
    (root / "secret").write_bytes(b"root only")
    os.chmod(root / "secret", 0o600)
    (root / "public").write_bytes(b"public")
    os.chmod(root / "public", 0o644)
    os.mkdir(root / "shared")
    os.chmod(root / "shared", 0o1777)
    (root / "shared" / "roots").write_bytes(b"in a sticky dir")
    os.chmod(root / "shared" / "roots", 0o666)

    with working_directory(root):
        results = run_as(USER, GROUP, _denied_operations)
    expected = {
        "listdir private": errno.EACCES,
        "stat in private": errno.EACCES,
        "create in private": errno.EACCES,
        "read secret": errno.EACCES,
        "write secret": errno.EACCES,
        "truncate secret": errno.EACCES,
        "create in root dir": errno.EACCES,
        "mkdir in root dir": errno.EACCES,
        "unlink in root dir": errno.EACCES,
        "rename in root dir": errno.EACCES,
        "chmod root's file": errno.EPERM,
        "chown root's file": errno.EPERM,
        "utime root's file to a time": errno.EPERM,
        "utime root's file to now": errno.EACCES,
        "setxattr on root's file": errno.EACCES,  # user.* needs write permission, as on a local disk
        "unlink root's file in a sticky dir": errno.EPERM,
        "access R_OK secret": errno.EACCES,
        "read public": 0,
    }
    assert {k: errno.errorcode.get(v, v) for k, v in results.items()} == \
        {k: errno.errorcode.get(v, v) for k, v in expected.items()}
    # Nothing changed on the server.
    assert server_path(mount, "secret").read_bytes() == b"root only"
    assert stat.S_IMODE(os.stat(server_path(mount, "secret")).st_mode) == 0o600
    assert sorted(os.listdir(mount.server.export)) == ["private", "public", "secret", "shared"]


def _stat_errno(path):
    try:
        os.stat(path)
        return 0
    except OSError as e:
        return e.errno


def test_default_permissions_also_guards_names_the_kernel_has_cached(server, mount_factory):
    """With default_permissions the kernel checks search permission itself, so a name root has
    just looked up (its dentry cached for entry_timeout) is still out of another user's reach."""
    mount = mount_factory(server, options="allow_other,default_permissions,entry_timeout=60,attr_timeout=60")
    os.mkdir(mount.mountpoint / "private", 0o700)
    (mount.mountpoint / "private" / "inside").write_bytes(b"hidden")
    os.stat(mount.mountpoint / "private" / "inside")
    with working_directory(mount.mountpoint):
        assert run_as(USER, GROUP, _stat_errno, "private/inside") == errno.EACCES


def _create_in(directory):
    with open(f"{directory}/by-user", "wb") as f:
        f.write(b"x")
    st = os.stat(f"{directory}/by-user")
    return st.st_uid, st.st_gid


def test_supplementary_groups_travel_with_the_request(shared_mount):
    mount = shared_mount
    os.mkdir(mount.mountpoint / "team", 0o770)
    os.chown(mount.mountpoint / "team", 0, TEAM)
    os.chmod(mount.mountpoint / "team", 0o2770)  # setgid: new files get the directory's group
    with working_directory(mount.mountpoint):
        with pytest.raises(PermissionError):
            run_as(USER, GROUP, _create_in, "team")
        assert run_as(USER, GROUP, _create_in, "team", groups=[TEAM]) == (USER, TEAM)
    st = os.stat(server_path(mount, "team", "by-user"))
    assert (st.st_uid, st.st_gid) == (USER, TEAM)


# Large offsets, unaligned I/O, mmap, O_APPEND -------------------------------------------------


def test_sparse_file_larger_than_4_gib(mount):
    path = mount.mountpoint / "sparse"
    five_gib = 5 << 30
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        pwrite_all(fd, b"at five GiB", five_gib)
        pwrite_all(fd, b"just past 4 GiB", (1 << 32) + 17)
        assert os.fstat(fd).st_size == five_gib + 11
        assert os.pread(fd, 11, five_gib) == b"at five GiB"
        assert os.pread(fd, 15, (1 << 32) + 17) == b"just past 4 GiB"
        # The hole reads as zeros, including where a 32-bit offset would alias the data.
        assert os.pread(fd, 64, 17) == bytes(64)
        assert os.pread(fd, 1 << 20, (4 << 30) - (1 << 19)) == bytes(1 << 19) + bytes(17) + \
            b"just past 4 GiB" + bytes((1 << 19) - 32)
        assert os.pread(fd, 1 << 20, five_gib - (1 << 20)) == bytes(1 << 20)
        assert os.pread(fd, 100, five_gib + 5) == b"ve GiB"
    finally:
        os.close(fd)
    assert os.stat(path).st_size == five_gib + 11
    on_server = os.stat(server_path(mount, "sparse"))
    assert on_server.st_size == five_gib + 11
    assert on_server.st_blocks * 512 <= 1 << 20, f"not sparse on the server: {on_server.st_blocks} blocks"
    with open(server_path(mount, "sparse"), "rb") as f:
        f.seek(five_gib)
        assert f.read() == b"at five GiB"
    os.unlink(path)


UNALIGNED_SIZES = [1, 2, 3, 7, 511, 513, 4095, 4097, 65_537, 131_071, 1_000_001, (1 << 20) - 1, (1 << 20) + 1,
                   (2 << 20) + 4099, 3 << 20]


@pytest.mark.parametrize("options", ["", "cache=none"], ids=["page-cache", "direct-io"])
def test_unaligned_reads_and_writes(server, mount_factory, options):
    import random

    mount = mount_factory(server, options=options)
    rng = random.Random(20261127)
    path = mount.mountpoint / "unaligned"
    model = bytearray()
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        for step, size in enumerate(UNALIGNED_SIZES + UNALIGNED_SIZES[::-1]):
            offset = rng.randrange(0, 1 << 20) | 1  # odd
            data = rng.randbytes(size)
            pwrite_all(fd, data, offset)
            if offset > len(model):
                model += bytes(offset - len(model))
            model[offset:offset + size] = data
            assert os.fstat(fd).st_size == len(model), f"step {step}"
            # Read back exactly what was written, and an unaligned window around it.
            assert_bytes_equal(f"step {step}: {size} bytes at {offset}", os.pread(fd, size, offset), data)
            read_size = rng.choice(UNALIGNED_SIZES)
            read_offset = max(0, offset - rng.randrange(0, 5000)) | 1
            assert_bytes_equal(f"step {step}: read {read_size} at {read_offset}", os.pread(fd, read_size, read_offset),
                               bytes(model[read_offset:read_offset + read_size]))
    finally:
        os.close(fd)
    assert_bytes_equal("whole file", read_all(path), bytes(model))
    assert_bytes_equal("on the server", server_path(mount, "unaligned").read_bytes(), bytes(model))


def test_shared_writable_mmap(mount):
    path = mount.mountpoint / "mapped"
    size = 3 * mmap.PAGESIZE + 100
    model = bytearray(pattern(5, size))
    path.write_bytes(model)
    fd = os.open(path, os.O_RDWR)
    try:
        with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as mapped:
            assert mapped[:] == model  # reads through the mapping
            for offset, data in [(10, b"first page"), (mmap.PAGESIZE - 3, b"straddles pages"),
                                 (size - 7, b"the end")]:
                mapped[offset:offset + len(data)] = data
                model[offset:offset + len(data)] = data
            mapped.flush()  # msync(MS_SYNC)
            assert_bytes_equal("server after msync", server_path(mount, "mapped").read_bytes(), bytes(model))
            reader = os.open(path, os.O_RDONLY)
            try:
                assert_bytes_equal("read(2) after msync", os.pread(reader, size + 10, 0), bytes(model))
            finally:
                os.close(reader)
            # A write(2) is seen through the mapping.
            pwrite_all(fd, b"written", 2 * mmap.PAGESIZE + 1)
            model[2 * mmap.PAGESIZE + 1:2 * mmap.PAGESIZE + 8] = b"written"
            assert mapped[:] == model
            # Dirty pages left without msync reach the server by munmap and close.
            mapped[100:110] = b"no msync.."
            model[100:110] = b"no msync.."
    finally:
        os.close(fd)
    assert_bytes_equal("server after close", server_path(mount, "mapped").read_bytes(), bytes(model))
    assert_bytes_equal("mount after close", path.read_bytes(), bytes(model))


def test_o_append(mount):
    path = mount.mountpoint / "log"
    path.write_bytes(b"start\n")
    first = os.open(path, os.O_WRONLY | os.O_APPEND)
    second = os.open(path, os.O_WRONLY | os.O_APPEND)
    other = os.open(path, os.O_RDWR)
    try:
        os.write(first, b"one\n")
        os.lseek(first, 0, os.SEEK_SET)  # a seek does not matter with O_APPEND
        os.write(first, b"two\n")
        os.write(second, b"three\n")
        pwrite_all(other, b"START", 0)  # a plain write lands where it is told
        os.write(first, b"four\n")
        assert os.lseek(first, 0, os.SEEK_CUR) == len(b"start\none\ntwo\nthree\nfour\n")
    finally:
        for fd in (first, second, other):
            os.close(fd)
    assert path.read_bytes() == b"START\none\ntwo\nthree\nfour\n"
    assert server_path(mount, "log").read_bytes() == b"START\none\ntwo\nthree\nfour\n"
