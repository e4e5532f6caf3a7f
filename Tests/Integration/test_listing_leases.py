"""Listing leases (issue 16, items 1 and 4): a directory listed under a lease is walked again by
the kernel alone (READDIRPLUS entries leased like lookups, OPENDIR/RELEASEDIR answered by the
client, names not listed known absent), and a change on another mount still reaches the cached
listing, entries, attributes and absent names at once, though the kernel was told it may keep
them for the lease's hour."""

import os

import pytest

from test_leases import moved, opcode_counts

TIMEOUT = 60
QUIET = ("STATFS", "PING", "INVALIDATE_DONE")


def make_tree(root, dirs=4, files=5):
    for d in range(dirs):
        os.makedirs(root / f"d{d}" / "sub")
        for f in range(files):
            (root / f"d{d}" / f"f{f}").write_bytes(b"x" * f)
            (root / f"d{d}" / "sub" / f"g{f}").write_bytes(b"y")


def walk(root) -> list:
    """What `find` plus `du` do: list every directory, lstat every entry."""
    seen = []
    for top, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            seen.append((os.path.relpath(os.path.join(top, name), root), os.lstat(os.path.join(top, name)).st_size))
    return sorted(seen)


def sent_during(server, action) -> dict:
    before = opcode_counts(server)
    action()
    return {k: v for k, v in moved(before, opcode_counts(server)).items() if k not in QUIET}


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_tree_listed_once_is_walked_again_without_requests(metrics_server, mount_factory):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server)
    make_tree(a.mountpoint)
    first = walk(b.mountpoint)
    # Past the ordinary 1 s timeouts: only leases keep the kernel from asking. Reading a
    # directory makes the kernel forget its access time, so the second walk may ask GETATTR
    # once per directory; nothing else, and the third walk nothing at all.
    import time
    time.sleep(1.5)
    second = sent_during(metrics_server, lambda: walk(b.mountpoint))
    assert {k: v for k, v in second.items() if k != "GETATTR"} == {}, second
    assert second.get("GETATTR", 0) <= 9, second
    third = sent_during(metrics_server, lambda: walk(b.mountpoint))
    assert third == {}, third
    assert walk(b.mountpoint) == first


@pytest.mark.timeout_seconds(TIMEOUT)
def test_changes_on_a_reach_a_tree_b_listed_at_once(server, mount_factory):
    """B's cached listing, entries, attributes and absent names are leased for an hour; every
    create, removal, rename, chmod and write on A is seen by B the moment it returns."""
    a, b, c = mount_factory(server), mount_factory(server), mount_factory(server)
    make_tree(a.mountpoint, dirs=2)
    d_a, d_b = a.mountpoint / "d0", b.mountpoint / "d0"
    for round in range(5):
        walk(b.mountpoint), walk(c.mountpoint)  # listed (readdirplus) and stat'ed on B and C
        with pytest.raises(FileNotFoundError):
            os.lstat(d_b / f"new{round}")  # not listed: known absent on B
        (d_a / f"new{round}").write_bytes(b"12345")
        assert os.lstat(d_b / f"new{round}").st_size == 5
        assert f"new{round}" in os.listdir(d_b)
        os.chmod(d_a / "f1", 0o600 + round)
        assert os.lstat(d_b / "f1").st_mode & 0o777 == 0o600 + round
        with open(d_a / "f2", "ab") as f:
            f.write(b"more")
        assert os.lstat(d_b / "f2").st_size == os.lstat(d_a / "f2").st_size
        os.rename(d_a / f"new{round}", d_a / "sub" / f"moved{round}")
        assert f"new{round}" not in os.listdir(d_b)
        assert f"moved{round}" in os.listdir(d_b / "sub")
        with pytest.raises(FileNotFoundError):
            os.lstat(d_b / f"new{round}")
        os.unlink(d_a / "sub" / f"moved{round}")
        with pytest.raises(FileNotFoundError):
            os.lstat(d_b / "sub" / f"moved{round}")
        assert f"moved{round}" not in os.listdir(d_b / "sub")
        os.mkdir(d_a / f"dir{round}")
        assert os.path.isdir(d_b / f"dir{round}")
        assert walk(b.mountpoint) == walk(a.mountpoint) == walk(c.mountpoint)
    assert "did not answer" not in server.log_text()


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_name_not_in_a_wholly_listed_directory_is_absent_without_a_request(metrics_server, mount_factory):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server)
    make_tree(a.mountpoint, dirs=1)
    os.listdir(b.mountpoint / "d0")

    def misses():
        for i in range(30):
            with pytest.raises(FileNotFoundError):
                os.lstat(b.mountpoint / "d0" / f"missing{i}")

    sent = sent_during(metrics_server, misses)
    assert sent.get("LOOKUP", 0) == 0, sent
    (a.mountpoint / "d0" / "missing7").write_bytes(b"")
    assert os.path.exists(b.mountpoint / "d0" / "missing7")  # the break cleared what B knew
    with pytest.raises(FileNotFoundError):
        os.lstat(b.mountpoint / "d0" / "missing8")


@pytest.mark.timeout_seconds(TIMEOUT)
def test_another_user_is_refused_a_lookup_in_a_private_wholly_listed_directory(metrics_server, mount_factory):
    """The listing tells the client every name, not who may look: a user the server refuses
    (EACCES, no search permission) is not told "absent" by the client; the owner still is,
    without a request."""
    from posix_helpers import run_as

    a = mount_factory(metrics_server, "allow_other")  # other users reach the client at all
    os.mkdir(a.mountpoint / "private", 0o700)
    (a.mountpoint / "private" / "present").write_bytes(b"x")
    assert os.listdir(a.mountpoint / "private") == ["present"]
    os.chdir(a.mountpoint)
    try:
        with pytest.raises(PermissionError):
            run_as(65534, 65534, os.lstat, "private/missing")
    finally:
        os.chdir("/")
    sent = sent_during(metrics_server, lambda: pytest.raises(FileNotFoundError, os.lstat, a.mountpoint / "private" / "gone"))
    assert sent.get("LOOKUP", 0) == 0, sent


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_directory_opened_locally_then_changed_elsewhere_lists_the_change(metrics_server, mount_factory):
    """B opens a directory whose listing it holds under a lease without asking the server;
    A changes the directory before B reads it: B's read lists A's change (its kernel's cached
    listing went with the break, and the read opens the directory on the server then)."""
    a, b = mount_factory(metrics_server), mount_factory(metrics_server)
    make_tree(a.mountpoint, dirs=1)
    for round in range(5):
        expected = sorted(os.listdir(a.mountpoint / "d0"))
        assert sorted(os.listdir(b.mountpoint / "d0")) == expected  # leased listing on B
        fds = []
        sent = sent_during(metrics_server, lambda: fds.append(os.open(b.mountpoint / "d0", os.O_RDONLY | os.O_DIRECTORY)))
        try:
            assert sent.get("OPENDIR", 0) == 0, sent
            if round % 2 == 0:
                (a.mountpoint / "d0" / f"late{round}").write_bytes(b"")
                expected = sorted(expected + [f"late{round}"])
            else:
                os.unlink(a.mountpoint / "d0" / f"late{round - 1}")
                expected.remove(f"late{round - 1}")
            assert sorted(os.listdir(fds[0])) == expected
        finally:
            os.close(fds[0])


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_directory_opened_locally_is_still_checked_for_each_user(server, mount_factory):
    """An OPENDIR answered by the client alone reuses the server's permission check for the same
    credentials only: another user's, or one after a chmod on another mount, asks the server."""
    from posix_helpers import run_as

    a = mount_factory(server, options="allow_other")
    b = mount_factory(server, options="allow_other")
    os.chmod(a.mountpoint, 0o755)
    os.mkdir(a.mountpoint / "private", 0o700)
    (a.mountpoint / "private" / "secret").write_bytes(b"")
    os.mkdir(a.mountpoint / "shared", 0o755)
    (a.mountpoint / "shared" / "f").write_bytes(b"")
    here = os.getcwd()
    os.chdir(b.mountpoint)
    try:
        for _ in range(2):
            assert os.listdir("private") == ["secret"]  # root's listing, leased on B
            with pytest.raises(PermissionError):
                run_as(65534, 65534, os.listdir, "private")
        assert run_as(65534, 65534, os.listdir, "shared") == ["f"]  # leased for nobody too
        assert run_as(65534, 65534, os.listdir, "shared") == ["f"]
        os.chmod(a.mountpoint / "shared", 0o700)
        with pytest.raises(PermissionError):
            run_as(65534, 65534, os.listdir, "shared")
    finally:
        os.chdir(here)
