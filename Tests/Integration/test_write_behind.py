"""Write-behind of file metadata under the write-back grant (issue 16, item 2, step A): the holder
of a file's grant answers SETATTR (owner, mode, times), GETATTR, FLUSH and RELEASE itself and
sends them on in order; another mount sees the result at once (its request recalls the grant,
and the holder answers the recall only once they are applied); a request the server refuses
after the holder answered it is reported at fsync and close (ConsistencyContract "Write-behind
of file metadata")."""

import os
import tarfile
import time

import pytest

from test_leases import moved, opcode_counts

TIMEOUT = 60


def write_like_tar(path, data, uid, mode, times):
    """What tar does per file: create, write, fchown, fchmod, futimens, close."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fchown(fd, uid, uid)
        os.fchmod(fd, mode)
        os.utime(fd, ns=times)
    finally:
        os.close(fd)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_what_a_wrote_chowned_chmodded_and_touched_is_seen_whole_on_b_at_once(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    os.mkdir(a.mountpoint / "d")
    os.listdir(b.mountpoint / "d")  # B looked into the directory before
    for i in range(40):
        name = f"f{i}"
        data = os.urandom(100 + 37 * i)
        mode = 0o600 + (i % 8) * 0o10 + (i % 5)
        times = (1_000_000_000 + i, 1_500_000_000_123_456_789 + i)
        write_like_tar(a.mountpoint / "d" / name, data, 1000 + i, mode, times)
        # Alternately by name (LOOKUP), and through a descriptor (OPEN, then GETATTR).
        if i % 2:
            st = os.stat(b.mountpoint / "d" / name)
            content = (b.mountpoint / "d" / name).read_bytes()
        else:
            with open(b.mountpoint / "d" / name, "rb") as f:
                content = f.read()
                st = os.fstat(f.fileno())
        assert content == data, name
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, 1000 + i, 1000 + i), name
        assert (st.st_size, st.st_mtime_ns) == (len(data), times[1]), name


@pytest.mark.timeout_seconds(TIMEOUT)
def test_what_a_changed_on_a_file_it_still_has_open_is_seen_on_b_at_once(server, mount_factory):
    """The holder sends what it answered itself a while later unless someone needs it: B's
    request recalls the grant, and the holder answers only once its changes are applied."""
    a, b = mount_factory(server), mount_factory(server)
    for i in range(10):
        name = f"open{i}"
        fd = os.open(a.mountpoint / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"x" * (10 + i))
            os.fchmod(fd, 0o640 + i % 8)
            os.utime(fd, ns=(i, 2_000_000_000 + i))
            st = os.stat(b.mountpoint / name)
            assert (st.st_mode & 0o777, st.st_mtime_ns, st.st_size) == (0o640 + i % 8, 2_000_000_000 + i, 10 + i), name
            os.fchmod(fd, 0o600)  # the grant is gone: synchronous, and seen at once too
            assert os.stat(b.mountpoint / name).st_mode & 0o777 == 0o600, name
        finally:
            os.close(fd)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_chown_the_server_refuses_after_the_client_answered_it_is_reported_at_fsync_and_close(
    server_factory, mount_factory
):
    """With --root-squash, root on the client may chown (so the client answers it), but the
    server acts as the anonymous user and refuses: fsync reports it, once per descriptor; a
    close reports it when it is known by then (an OPEN of the file waits until it is); a
    descriptor opened after the error does not report it."""
    server = server_factory(args=["--root-squash"])
    (server.export / "open").mkdir()
    os.chmod(server.export / "open", 0o777)  # the anonymous user may create here
    mount = mount_factory(server)
    path = mount.mountpoint / "open" / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"data")
    os.fchown(fd, 4242, 4242)  # answered by the client
    with pytest.raises(PermissionError):
        os.fsync(fd)
    os.fsync(fd)  # reported once
    os.close(fd)
    assert os.stat(path).st_uid != 4242  # the server's attributes again

    fd = os.open(path, os.O_WRONLY)
    os.fchown(fd, 4243, 4243)
    later = os.open(path, os.O_RDONLY)  # waits until the chown is applied (refused)
    with pytest.raises(PermissionError):
        os.close(fd)
    os.close(later)  # opened after the error: nothing to report
    assert path.read_bytes() == b"data"
    assert os.stat(path).st_uid != 4243


@pytest.mark.timeout_seconds(TIMEOUT)
def test_untarring_sends_one_setattr_and_no_getattr_or_flush_per_file(
    metrics_server, mount_factory, registry, tmp_path
):
    """GNU tar as root, per file: create, write, chown, chmod, utimens, close. Before write-behind
    that was 3 SETATTRs, a GETATTR, a WRITEBACK_GRANT: 8 requests a file; now 4."""
    source = tmp_path / "source"
    source.mkdir()
    count = 30
    for i in range(count):
        path = source / f"f{i}"
        path.write_bytes(os.urandom(200 + i))
        os.chmod(path, 0o640 + i % 8)
        os.chown(path, 1000, 1000)
        os.utime(path, (1_000_000_000, 1_200_000_000 + i))
    archive = tmp_path / "small.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname="t")
    mount = mount_factory(metrics_server)
    before = opcode_counts(metrics_server)
    result = registry.run(["tar", "-xf", archive, "-C", mount.mountpoint])
    assert result.returncode == 0, result.stderr
    mount.unmount()  # what was sent behind is applied before the unmount completes
    sent = moved(before, opcode_counts(metrics_server))
    print(f"requests for {count} files: {sent}")
    assert sent.get("CREATE", 0) == count
    # Per file: CREATE (which takes the write-back grant too), WRITE, one SETATTR, RELEASE. The
    # directory's SETATTRs are synchronous.
    assert sent.get("SETATTR", 0) <= count + 3, sent
    assert sent.get("WRITEBACK_GRANT", 0) == 0, sent
    assert sent.get("GETATTR", 0) <= 2, sent
    assert sent.get("FLUSH", 0) == 0, sent
    assert sum(sent.values()) / count < 4.5, sent
    for i in range(count):
        st = os.stat(metrics_server.export / "t" / f"f{i}")
        assert (st.st_mode & 0o777, st.st_uid, st.st_mtime_ns) == (0o640 + i % 8, 1000, (1_200_000_000 + i) * 10**9)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_written_files_times_are_the_servers_on_every_mount_and_stay(server, mount_factory):
    """A `stat` after a buffered write was answered with times the client made up, and the
    server stamps its own when the bytes land: the file's times differed between the writer
    and every other mount, and changed on the writer later by themselves (`make`, `rsync` and
    `git status` compare them). Now that `stat` waits for the bytes and asks the server."""
    a, b = mount_factory(server), mount_factory(server)
    seen = {}
    for i in range(10):
        with open(a.mountpoint / f"w{i}", "wb") as f:
            f.write(b"x" * (1000 + i))
            f.flush()
            seen[f"w{i}"] = os.fstat(f.fileno())  # the bytes are still buffered on A here

    def times(st):
        return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    for name, during in seen.items():
        truth = times(os.stat(server.export / name))
        assert times(during) == truth, name
        assert times(os.stat(a.mountpoint / name)) == truth, name
        assert times(os.stat(b.mountpoint / name)) == truth, name
    time.sleep(2.5)  # past the write-back timer and the ordinary attribute timeout
    for name, during in seen.items():
        assert times(os.stat(a.mountpoint / name)) == times(during), name


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_stat_after_a_buffered_write_takes_the_times_from_the_writes_reply(metrics_server, mount_factory):
    """The WRITE that sends the buffered bytes brings the file's attributes back (capability
    `writeAttributes`), so the `stat` that waited for it asks nothing more."""
    mount = mount_factory(metrics_server)
    before = opcode_counts(metrics_server)
    seen = {}
    for i in range(20):
        with open(mount.mountpoint / f"s{i}", "wb") as f:
            f.write(b"y" * (3000 + i))
            f.flush()
            seen[f"s{i}"] = os.fstat(f.fileno())
    sent = moved(before, opcode_counts(metrics_server))
    assert sent.get("GETATTR", 0) == 0, sent
    assert sent.get("WRITE", 0) == 20, sent
    for name, during in seen.items():
        truth = os.stat(metrics_server.export / name)
        assert (during.st_size, during.st_mtime_ns, during.st_ctime_ns) == (
            truth.st_size, truth.st_mtime_ns, truth.st_ctime_ns), name


def _write_one_byte_as_other(path):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_what_the_server_changes_under_the_grant_is_not_answered_stale(server, mount_factory):
    """The holder answers GETATTR from what it knows only while every change to the file went
    through write-behind: an APPEND, a FALLOCATE, a write by another user that clears set-id
    bits on the server (each sent to the server, not answered here) make it ask the server
    again. Seen through the descriptor that holds the grant, on this mount and another."""
    from posix_helpers import run_as, working_directory

    a = mount_factory(server, options="allow_other,default_permissions")
    b = mount_factory(server)
    os.mkdir(a.mountpoint / "d")
    os.chmod(a.mountpoint / "d", 0o777)
    path = a.mountpoint / "d" / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)  # takes the grant
    try:
        os.write(fd, b"12345")
        os.utime(fd, ns=(1, 1_000_000_000))  # answered here
        assert (os.fstat(fd).st_size, os.fstat(fd).st_mtime_ns) == (5, 1_000_000_000)

        appender = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.fstat(fd)  # learned again under the grant
            os.write(appender, b"abcde")  # an APPEND
        finally:
            os.close(appender)
        st = os.fstat(fd)
        assert st.st_size == 10 and st.st_mtime_ns != 1_000_000_000, st

        os.posix_fallocate(fd, 0, 8192)  # a FALLOCATE
        assert os.fstat(fd).st_size == 8192
        assert os.stat(path).st_size == 8192

        os.fchmod(fd, 0o6777)  # answered here
        assert os.fstat(fd).st_mode & 0o7777 == 0o6777
        with working_directory(a.mountpoint / "d"):  # the path above the mount is root's alone
            run_as(65534, 65534, _write_one_byte_as_other, "f")  # the server clears set-id
        assert os.fstat(fd).st_mode & 0o7777 == 0o777
        assert os.stat(path).st_mode & 0o7777 == 0o777
    finally:
        os.close(fd)
    st = os.stat(b.mountpoint / "d" / "f")
    assert (st.st_size, st.st_mode & 0o7777) == (8192, 0o777)
