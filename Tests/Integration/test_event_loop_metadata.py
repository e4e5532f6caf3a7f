"""Namespace and attribute requests the server performs on its event loop (`EventLoopRequests`):
with the local store, LOOKUP, CREATE, MKDIR, RENAME, UNLINK, SETATTR without a size and their
kin skip the thread pool. They must still run as the user who asked (the event loop thread
switches identity like a pool thread, and takes the server's back after), and every other mount
must see what they did.

Which path served them is told by the server's STATUS= line: "N other requests on the event
loop"."""

from __future__ import annotations

import os
import stat

import pytest

from posix_helpers import run_as


def settled(server) -> int:
    """Requests other than READ answered on the event loop, once the count is stable."""
    return server.notify.settled_status_numbers(r"(\d+) other requests on the event loop")[0]


def make_files(directory: str, prefix: str, count: int) -> None:
    """Creates, renames, chmods and removes files in `directory`, as whoever runs it."""
    for index in range(count):
        path = os.path.join(directory, f"{prefix}-{index}")
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.rename(path, path + ".kept")
        os.chmod(path + ".kept", 0o600)
    os.mkdir(os.path.join(directory, f"{prefix}-dir"))
    os.symlink("target", os.path.join(directory, f"{prefix}-link"))
    os.unlink(os.path.join(directory, f"{prefix}-0.kept"))


@pytest.mark.timeout_seconds(120)
def test_namespace_requests_run_on_the_event_loop_as_their_caller(server_factory, mount_factory):
    server = server_factory(args=["--status-interval", "0.1"])
    a = mount_factory(server, options="allow_other")
    b = mount_factory(server, options="allow_other")
    os.chmod(a.mountpoint, 0o755)
    shared = a.mountpoint / "shared"
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    before = settled(server)

    # Three identities interleaved on one connection: each object must be its maker's. (The
    # children reach the mount through the current directory: the test's own is root's.)
    count = 20
    here = os.getcwd()
    os.chdir(a.mountpoint)
    try:
        run_as(1000, 1000, make_files, "shared", "u1000", count)
        make_files("shared", "root", count)
        run_as(2000, 3000, make_files, "shared", "u2000", count)
        run_as(1000, 1000, make_files, "shared", "again", count)
    finally:
        os.chdir(here)

    after = settled(server)
    print(f"{after - before} requests on the event loop")
    # Each file alone is a CREATE, a RENAME and a SETATTR, all of them on the event loop.
    assert after - before >= 4 * count * 3, "namespace requests did not run on the event loop"

    # The other mount sees every change, made by the right user.
    seen = sorted(os.listdir(b.mountpoint / "shared"))
    expected = sorted(
        [f"{prefix}-{index}.kept" for prefix in ("u1000", "root", "u2000", "again") for index in range(1, count)]
        + [f"{prefix}-{kind}" for prefix in ("u1000", "root", "u2000", "again") for kind in ("dir", "link")])
    assert seen == expected
    owners = {"u1000": (1000, 1000), "root": (0, 0), "u2000": (2000, 3000), "again": (1000, 1000)}
    for name in seen:
        st = os.lstat(b.mountpoint / "shared" / name)
        assert (st.st_uid, st.st_gid) == owners[name.split("-")[0]], f"{name} has the wrong owner"
        if name.endswith(".kept"):
            assert stat.S_IMODE(st.st_mode) == 0o600, f"{name} kept its old mode"
        # And the export agrees: the server made them so, not the client's cache.
        exported = os.lstat(server.export / "shared" / name)
        assert (exported.st_uid, exported.st_gid) == (st.st_uid, st.st_gid)

    # A user the directory refuses is refused on the event loop too.
    os.mkdir(a.mountpoint / "private", 0o700)
    os.chdir(b.mountpoint)
    try:
        with pytest.raises(PermissionError):
            run_as(1000, 1000, os.mkdir, "private/intruder")
    finally:
        os.chdir(here)
    assert not (server.export / "private" / "intruder").exists()


@pytest.mark.timeout_seconds(120)
def test_a_truncation_still_reaches_every_mount(server_factory, mount_factory):
    """A SETATTR with a size goes to the pool (it may free many blocks); the others, with it,
    keep their order: the other mount sees the final size and mode."""
    server = server_factory()
    a = mount_factory(server)
    b = mount_factory(server)
    path = a.mountpoint / "file"
    path.write_bytes(os.urandom(1 << 20))
    for size in (4096, 1 << 19, 12345, 0, 777):
        os.truncate(path, size)
        os.chmod(path, 0o600 if size % 2 else 0o644)
        st = os.stat(b.mountpoint / "file")
        assert st.st_size == size
        assert stat.S_IMODE(st.st_mode) == (0o600 if size % 2 else 0o644)
