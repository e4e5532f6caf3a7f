"""Directory attributes under a lease (ConsistencyContract "Directory attributes"): the GETATTR
the kernel sends for a directory after listing it (it forgets the directory's access time) is
answered by the client from what the server said under the lease, so a tree walked twice costs
nothing the second time; a change to a directory, made on another mount or on this one, is seen
by the next `stat` at once all the same."""

import os
import time

import pytest

from posix_helpers import RENAME_EXCHANGE, renameat2
from test_listing_leases import make_tree, sent_during, walk

TIMEOUT = 60


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_tree_walked_again_sends_no_getattr_for_its_directories(metrics_server, mount_factory):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server)
    make_tree(a.mountpoint)
    first = walk(b.mountpoint)
    time.sleep(1.5)  # past the ordinary 1 s timeouts: only leases keep the kernel from asking
    second = sent_during(metrics_server, lambda: walk(b.mountpoint))
    assert second == {}, second
    assert walk(b.mountpoint) == first


def stat_after_walk(mount, path):
    walk(mount.mountpoint)  # lists every directory: the kernel forgets their access times
    return os.stat(path)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_change_to_a_walked_directory_is_seen_at_once_on_both_mounts(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    make_tree(a.mountpoint)
    target = "d1"
    before = stat_after_walk(b, b.mountpoint / target)
    # Another mount changes the directory's mode and adds a name in it.
    os.chmod(a.mountpoint / target, 0o700)
    assert stat_after_walk(b, b.mountpoint / target).st_mode & 0o777 == 0o700
    time.sleep(0.05)
    (a.mountpoint / target / "new-from-a").write_bytes(b"a")
    after_a = stat_after_walk(b, b.mountpoint / target)
    assert after_a.st_mtime_ns != before.st_mtime_ns
    # This mount's own changes: a name made, a subdirectory removed, its mode set back.
    time.sleep(0.05)
    (b.mountpoint / target / "new-from-b").write_bytes(b"b")
    after_b = stat_after_walk(b, b.mountpoint / target)
    assert after_b.st_mtime_ns != after_a.st_mtime_ns
    links = after_b.st_nlink
    for name in os.listdir(b.mountpoint / target / "sub"):
        os.unlink(b.mountpoint / target / "sub" / name)
    os.rmdir(b.mountpoint / target / "sub")
    assert stat_after_walk(b, b.mountpoint / target).st_nlink == links - 1
    os.chmod(b.mountpoint / target, 0o755)
    assert stat_after_walk(b, b.mountpoint / target).st_mode & 0o777 == 0o755
    # A directory moved into another: the new parent's link count, on the other mount too.
    parent_links = stat_after_walk(a, a.mountpoint / "d2").st_nlink
    os.rename(b.mountpoint / "d3", b.mountpoint / "d2" / "d3")
    assert stat_after_walk(b, b.mountpoint / "d2").st_nlink == parent_links + 1
    assert stat_after_walk(a, a.mountpoint / "d2").st_nlink == parent_links + 1
    assert os.stat(a.mountpoint / "d2" / "d3").st_ino == os.stat(b.mountpoint / "d2" / "d3").st_ino


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_file_renamed_in_a_walked_tree_costs_one_getattr_for_its_directory_only(metrics_server, mount_factory):
    # `git status` renames index.lock over index each time: the other directories stay known.
    mount = mount_factory(metrics_server)
    make_tree(mount.mountpoint)
    walk(mount.mountpoint)  # lists every directory: the kernel forgets their access times
    (mount.mountpoint / "d0" / "f1").write_bytes(b"lock")
    os.rename(mount.mountpoint / "d0" / "f1", mount.mountpoint / "d0" / "f0")
    sent = sent_during(metrics_server, lambda: walk(mount.mountpoint))
    assert sent.get("GETATTR", 0) <= 1, sent


@pytest.mark.timeout_seconds(TIMEOUT)
def test_directories_this_mount_moves_show_the_servers_change_time_at_once(server, mount_factory):
    mount = mount_factory(server)
    make_tree(mount.mountpoint)
    walk(mount.mountpoint)
    time.sleep(0.05)

    def agrees(relative):
        # Straight to the directory, not through a fresh listing of its parent (whose entries
        # would bring the server's attributes anyway).
        seen, truth = os.stat(mount.mountpoint / relative), os.stat(server.export / relative)
        return (seen.st_ctime_ns, seen.st_nlink) == (truth.st_ctime_ns, truth.st_nlink)

    os.rename(mount.mountpoint / "d1" / "sub", mount.mountpoint / "d1" / "moved")
    assert agrees("d1/moved") and agrees("d1")
    os.rename(mount.mountpoint / "d3", mount.mountpoint / "d2" / "d3")
    assert agrees("d2/d3") and agrees("d2") and agrees(".")
    renameat2(mount.mountpoint / "d0" / "sub", mount.mountpoint / "d2" / "sub", RENAME_EXCHANGE)
    assert agrees("d0/sub") and agrees("d2/sub")
    os.mkdir(mount.mountpoint / "d0" / "empty")
    walk(mount.mountpoint)
    os.rename(mount.mountpoint / "d2" / "d3", mount.mountpoint / "d0" / "empty")  # over an empty directory
    assert agrees("d0/empty") and agrees("d0") and agrees("d2")
