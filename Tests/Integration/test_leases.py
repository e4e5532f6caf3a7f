"""Leases on names and attributes (issue 16, item 1): a mount's kernel keeps entries and attributes
for as long as the server holds a lease for it, and the server makes it forget them before it
acknowledges another mount's change. So a change on mount A is seen on mount B at once, even
where B cached the name as missing or the attributes a moment ago (without leases: only after the
1 s timeouts), and a repeated stat on B sends nothing to the server."""

import errno
import os
import re
import subprocess
import tarfile
import threading
import time
import http.client

import pytest

from posix_helpers import run_as, working_directory

TIMEOUT = 60


def opcode_counts(server) -> dict[str, float]:
    """The server's per-opcode request counters (`--metrics`)."""
    host, port = server.metrics.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    counts = {}
    for match in re.finditer(r'^pohmelfs_requests_total\{opcode="([A-Z_]+)"\} (\S+)$', text, re.M):
        counts[match.group(1)] = float(match.group(2))
    assert counts, "no per-opcode request counters in the exposition"
    return counts


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    return {k: int(after[k] - before.get(k, 0)) for k in after if after[k] != before.get(k, 0)}


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_name_found_missing_on_b_is_there_at_once_after_a_creates_it(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    for round in range(20):
        for kind in ("file", "dir", "symlink"):
            name = f"{kind}{round}"
            with pytest.raises(FileNotFoundError):
                os.stat(b.mountpoint / name)  # cached on B as missing
            if kind == "file":
                (a.mountpoint / name).write_bytes(b"x")
            elif kind == "dir":
                os.mkdir(a.mountpoint / name)
            else:
                os.symlink("target", a.mountpoint / name)
            os.lstat(b.mountpoint / name)  # there at once, no timeout waited
    assert "did not answer" not in server.log_text()


@pytest.mark.timeout_seconds(TIMEOUT)
def test_chmod_truncate_and_write_on_a_are_seen_by_stat_on_b_at_once(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    path_a, path_b = a.mountpoint / "f", b.mountpoint / "f"
    path_a.write_bytes(b"0123456789")
    for round in range(20):
        assert os.stat(path_b).st_size == os.stat(path_a).st_size  # cached on B
        os.chmod(path_a, 0o600 + round % 8)
        assert os.stat(path_b).st_mode & 0o777 == 0o600 + round % 8
        os.truncate(path_a, round)
        assert os.stat(path_b).st_size == round
        with open(path_a, "ab") as f:
            f.write(b"abc")
        assert os.stat(path_b).st_size == round + 3
        with open(path_a, "wb") as f:  # O_TRUNC alone changes the size too
            pass
        assert os.stat(path_b).st_size == 0


@pytest.mark.timeout_seconds(TIMEOUT)
def test_rename_and_unlink_on_a_are_seen_on_b_at_once(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    os.mkdir(a.mountpoint / "d")
    for round in range(20):
        (a.mountpoint / "d" / "old").write_bytes(b"content")
        os.stat(b.mountpoint / "d" / "old")
        with pytest.raises(FileNotFoundError):
            os.stat(b.mountpoint / "new")
        os.rename(a.mountpoint / "d" / "old", a.mountpoint / "new")
        with pytest.raises(FileNotFoundError):
            os.stat(b.mountpoint / "d" / "old")
        assert (b.mountpoint / "new").read_bytes() == b"content"
        assert "new" in os.listdir(b.mountpoint)
        os.unlink(a.mountpoint / "new")
        with pytest.raises(FileNotFoundError):
            os.stat(b.mountpoint / "new")


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_hard_links_count_changes_on_b_at_once(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "one").write_bytes(b"x")
    os.link(a.mountpoint / "one", a.mountpoint / "two")
    assert os.stat(b.mountpoint / "two").st_nlink == 2
    os.unlink(a.mountpoint / "one")
    assert os.stat(b.mountpoint / "two").st_nlink == 1


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_repeated_stat_sends_nothing_to_the_server(metrics_server, mount_factory):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server)
    os.makedirs(a.mountpoint / "x" / "y")
    (a.mountpoint / "x" / "y" / "f").write_bytes(b"data")
    path = b.mountpoint / "x" / "y" / "f"
    missing = b.mountpoint / "x" / "missing"
    os.stat(path)
    with pytest.raises(FileNotFoundError):
        os.stat(missing)
    before = opcode_counts(metrics_server)
    time.sleep(1.5)  # past the ordinary 1 s timeouts: only a lease keeps the kernel from asking
    for _ in range(200):
        os.stat(path)
        with pytest.raises(FileNotFoundError):
            os.stat(missing)
    sent = moved(before, opcode_counts(metrics_server))
    print(f"requests during 200 repeated stats: {sent}")
    assert sent.get("LOOKUP", 0) == 0 and sent.get("GETATTR", 0) == 0, sent


@pytest.mark.timeout_seconds(TIMEOUT)
def test_creating_files_in_a_new_directory_asks_no_lookup_capability_or_flush(metrics_server, mount_factory):
    """What tar does per file: a lookup of the new name, a create (O_EXCL), writes (each
    preceded by the kernel's security.capability check), a close. In a directory the mount made
    itself, the lookup, the capability checks and the close's FLUSH need no request. Without
    O_EXCL the file may be another client's (the next test): its first check asks the server,
    the later ones are answered under the lease."""
    mount = mount_factory(metrics_server)
    before = opcode_counts(metrics_server)
    os.mkdir(mount.mountpoint / "new")
    for i in range(20):
        exclusive = os.O_EXCL if i < 10 else 0
        descriptor = os.open(mount.mountpoint / "new" / f"f{i}", os.O_WRONLY | os.O_CREAT | exclusive, 0o644)
        with open(descriptor, "wb") as f:
            for _ in range(3):
                f.write(b"x" * 100)
                f.flush()
    sent = moved(before, opcode_counts(metrics_server))
    print(f"requests for 20 files of 3 writes: {sent}")
    assert sent.get("CREATE", 0) == 20
    assert sent.get("GETXATTR", 0) == 10, sent
    assert sent.get("LOOKUP", 0) <= 1, sent  # "new" itself, at most
    assert sent.get("FLUSH", 0) == 0, sent


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_name_another_mount_makes_in_a_directory_b_made_is_there_at_once(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    os.mkdir(b.mountpoint / "mine")  # B knows every name in it: it answers lookups itself
    for i in range(10):
        with pytest.raises(FileNotFoundError):
            os.stat(b.mountpoint / "mine" / f"x{i}")
        (a.mountpoint / "mine" / f"x{i}").write_bytes(b"x")
        os.stat(b.mountpoint / "mine" / f"x{i}")
        with pytest.raises(FileNotFoundError):
            os.stat(b.mountpoint / "mine" / f"y{i}")


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_capability_set_on_a_is_read_on_b_at_once(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"")
    with open(b.mountpoint / "f", "ab") as f:  # B's kernel checks security.capability: absent
        f.write(b"x")
    # A version 2 capability set granting nothing: any well-formed value will do.
    value = bytes([0, 0, 0, 2]) + bytes(16)
    os.setxattr(a.mountpoint / "f", "security.capability", value)
    assert os.getxattr(b.mountpoint / "f", "security.capability") == value
    os.removexattr(a.mountpoint / "f", "security.capability")
    with pytest.raises(OSError):
        os.getxattr(b.mountpoint / "f", "security.capability")


@pytest.mark.timeout_seconds(TIMEOUT)
def test_ls_l_asks_the_server_for_each_files_security_attributes_once(metrics_server, mount_factory):
    """`ls -l` asks for security.selinux and system.posix_acl_access of every file, every time:
    under the lease the first absence is the answer until the file changes (before: two
    requests per file per `ls -l`)."""
    mount = mount_factory(metrics_server)
    directory = mount.mountpoint / "d"
    os.mkdir(directory)
    for i in range(40):
        (directory / f"f{i}").write_bytes(b"x")
    subprocess.run(["ls", "-l", str(directory)], check=True, capture_output=True, timeout=30)
    before = opcode_counts(metrics_server)
    for _ in range(3):
        subprocess.run(["ls", "-l", str(directory)], check=True, capture_output=True, timeout=30)
    sent = moved(before, opcode_counts(metrics_server))
    print(f"requests for three more ls -l of 40 files: {sent}")
    assert sent.get("GETXATTR", 0) == 0, sent


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_label_and_an_acl_set_on_a_are_read_on_b_at_once(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"")
    for name in ("security.selinux", "system.posix_acl_access"):
        with pytest.raises(OSError) as absent:  # B learns the absence under its lease
            os.getxattr(b.mountpoint / "f", name)
        assert absent.value.errno == errno.ENODATA
    os.setxattr(a.mountpoint / "f", "security.selinux", b"system_u:object_r:label_t:s0")
    assert os.getxattr(b.mountpoint / "f", "security.selinux") == b"system_u:object_r:label_t:s0"
    # user::rw-, user:1000:r--, group::r--, mask::r--, other::r-- (an ACL a mode cannot say).
    entries = [(0x01, 6, 0xFFFFFFFF), (0x02, 4, 1000), (0x04, 4, 0xFFFFFFFF), (0x10, 4, 0xFFFFFFFF),
               (0x20, 4, 0xFFFFFFFF)]
    acl = (2).to_bytes(4, "little") + b"".join(
        tag.to_bytes(2, "little") + perm.to_bytes(2, "little") + uid.to_bytes(4, "little")
        for tag, perm, uid in entries)
    try:
        os.setxattr(a.mountpoint / "f", "system.posix_acl_access", acl)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
            pytest.skip("the export's file system keeps no POSIX ACLs")
        raise
    assert os.getxattr(b.mountpoint / "f", "system.posix_acl_access") == os.getxattr(
        a.mountpoint / "f", "system.posix_acl_access")


@pytest.mark.timeout_seconds(TIMEOUT)
def test_an_absence_learned_again_after_a_break_is_broken_by_the_next_change(server, mount_factory):
    """A chmod on A ends B's lease on the file; B asks again and is told "absent" again. The
    server grants the lease anew with that answer, so A's setxattr then reaches B (before: B
    held no lease any more, was not told, and kept answering "absent")."""
    a, b = mount_factory(server), mount_factory(server)
    values = {"security.capability": bytes([0, 0, 0, 2]) + bytes(16), "security.selinux": b"label"}
    for i, (name, value) in enumerate(values.items()):
        path_a, path_b = a.mountpoint / f"f{i}", b.mountpoint / f"f{i}"
        path_a.write_bytes(b"")
        assert _getxattr_or_errno(path_b, name) == "ENODATA"
        os.chmod(path_a, 0o600)  # breaks B's lease on the file's attributes
        assert _getxattr_or_errno(path_b, name) == "ENODATA"  # no stat in between: no GETATTR
        os.setxattr(path_a, name, value)
        assert _getxattr_or_errno(path_b, name) == value


USER, GROUP = 65534, 65534


def _getxattr_or_errno(path, name):
    try:
        return os.getxattr(path, name)
    except OSError as error:
        return errno.errorcode[error.errno]


@pytest.mark.timeout_seconds(TIMEOUT)
def test_an_attribute_hidden_from_a_user_is_still_there_for_root(server, mount_factory):
    """The server answers ENODATA for security.* to anyone but root: the absence a user learned
    on B is not root's (before: root on B read the user's answer for security.capability)."""
    a, b = mount_factory(server), mount_factory(server, options="allow_other")
    os.mkdir(a.mountpoint / "d", 0o755)
    (a.mountpoint / "d" / "f").write_bytes(b"")
    os.chmod(a.mountpoint / "d" / "f", 0o644)
    capability = bytes([0, 0, 0, 2]) + bytes(16)
    os.setxattr(a.mountpoint / "d" / "f", "security.capability", capability)
    os.setxattr(a.mountpoint / "d" / "f", "security.selinux", b"label")
    with working_directory(b.mountpoint / "d"):
        for name in ("security.capability", "security.selinux"):
            assert run_as(USER, GROUP, _getxattr_or_errno, "f", name) == "ENODATA"
    assert os.getxattr(b.mountpoint / "d" / "f", "security.capability") == capability
    assert os.getxattr(b.mountpoint / "d" / "f", "security.selinux") == b"label"


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_create_that_opens_an_existing_file_does_not_hide_its_capability(server, mount_factory):
    """open(O_CREAT) without O_EXCL of a name the kernel believes absent opens the file if it
    has been made since (by another client between the kernel's lookup and its CREATE): the
    mount must not take that file for a new one without capabilities (before: B then answered
    ENODATA for security.capability itself, and its kernel would not have cleared the
    capability at the next write). The race is made certain by creating the file in the export
    behind the server's back, after B has found the name absent."""
    b = mount_factory(server)
    with pytest.raises(FileNotFoundError):
        os.stat(b.mountpoint / "f")
    capability = bytes([0, 0, 0, 2]) + bytes(16)
    (server.export / "f").write_bytes(b"binary")
    os.setxattr(server.export / "f", "security.capability", capability)
    descriptor = os.open(b.mountpoint / "f", os.O_WRONLY | os.O_CREAT, 0o755)
    os.close(descriptor)
    assert os.getxattr(b.mountpoint / "f", "security.capability") == capability


@pytest.mark.timeout_seconds(TIMEOUT)
def test_two_mounts_creating_in_one_directory_never_wait_for_each_other(server, mount_factory):
    """Each mount's create breaks the other's lease on the directory's names while the other's
    own create holds the directory's lock in its kernel: neither may wait for the other's
    answer (the server would time the break out, and say so in its log)."""
    a, b = mount_factory(server), mount_factory(server)
    os.mkdir(a.mountpoint / "d")
    errors = []

    def creator(mount, tag):
        other = "b" if tag == "a" else "a"
        try:
            for i in range(150):
                (mount.mountpoint / "d" / f"{tag}{i}").write_bytes(b"x")
                try:
                    os.stat(mount.mountpoint / "d" / f"{other}{i}")
                except FileNotFoundError:
                    pass  # the other mount may not have got there yet
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=creator, args=(m, t)) for m, t in ((a, "a"), (b, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(os.listdir(a.mountpoint / "d")) == sorted(os.listdir(b.mountpoint / "d"))
    assert len(os.listdir(b.mountpoint / "d")) == 300
    assert "did not answer" not in server.log_text()


@pytest.mark.timeout_seconds(TIMEOUT)
def test_with_leases_off_the_ordinary_timeouts_apply(metrics_server, mount_factory):
    a = mount_factory(metrics_server)
    b = mount_factory(metrics_server, options="leases=off")
    (a.mountpoint / "f").write_bytes(b"x")
    os.stat(b.mountpoint / "f")
    before = opcode_counts(metrics_server)
    time.sleep(1.5)
    os.stat(b.mountpoint / "f")
    sent = moved(before, opcode_counts(metrics_server))
    assert sent.get("LOOKUP", 0) + sent.get("GETATTR", 0) >= 1, sent


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_listing_cached_on_b_shows_a_change_on_a_at_once(metrics_server, mount_factory):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server)
    os.mkdir(a.mountpoint / "d")
    for i in range(20):
        (a.mountpoint / "d" / f"f{i}").write_bytes(b"x")
    expected = sorted(f"f{i}" for i in range(20))
    assert sorted(os.listdir(b.mountpoint / "d")) == expected
    before = opcode_counts(metrics_server)
    for _ in range(20):
        assert sorted(os.listdir(b.mountpoint / "d")) == expected
    sent = moved(before, opcode_counts(metrics_server))
    assert sent.get("READDIR", 0) == 0, sent  # the kernel keeps the listing under the lease
    for i in range(5):
        (a.mountpoint / "d" / f"g{i}").write_bytes(b"x")
        expected = sorted(expected + [f"g{i}"])
        assert sorted(os.listdir(b.mountpoint / "d")) == expected
        os.unlink(a.mountpoint / "d" / f"f{i}")
        expected.remove(f"f{i}")
        assert sorted(os.listdir(b.mountpoint / "d")) == expected
        os.rename(a.mountpoint / "d" / f"f{i + 10}", a.mountpoint / "d" / f"h{i}")
        expected = sorted([name for name in expected if name != f"f{i + 10}"] + [f"h{i}"])
        assert sorted(os.listdir(b.mountpoint / "d")) == expected


def eventually(check, seconds: float = 20.0) -> bool:
    """Whether `check()` holds within `seconds` (polled): for what happens after a reconnection,
    whose moment the test does not control."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.mark.timeout_seconds(TIMEOUT)
def test_nothing_leased_before_a_server_restart_is_trusted_after_it(server_factory, mount_factory):
    """The restarted server holds no lease for the client, and changes made meanwhile were
    never broken: on reconnecting, the client makes its kernel forget what it kept (without
    that, a name cached as missing would stay missing for the lease's hour)."""
    server = server_factory()
    mount = mount_factory(server)
    (mount.mountpoint / "f").write_bytes(b"old")
    assert os.stat(mount.mountpoint / "f").st_size == 3
    with pytest.raises(FileNotFoundError):
        os.stat(mount.mountpoint / "missing")
    server.crash()
    (server.export / "missing").write_bytes(b"made while the server was down")
    (server.export / "f").write_bytes(b"longer now")
    server = server_factory(export=server.export, state_dir=server.state_dir, port=server.port)
    assert eventually(lambda: os.path.exists(mount.mountpoint / "missing")), "a negative entry outlived the restart"
    assert eventually(lambda: os.stat(mount.mountpoint / "f").st_size == 10), "attributes outlived the restart"
