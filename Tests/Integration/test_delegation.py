"""Delegated directories (issue 16, item 2; ConsistencyContract "Delegated directories"): a
directory a mount makes with `-o delegation=on` is its own until another mount touches it; creates
and removes there are answered locally and reach the server in order, in one log; another mount's
look recalls the delegation first, so it sees exactly a prefix of what the holder did; a killed
client leaves a prefix; a create the server refuses after the client answered it is reported by
fsync of the directory."""

import errno
import os
import shutil
import threading
import time

import pytest

import harness
import test_leases

TIMEOUT = 60
DELEGATION = "delegation=on"


def content(i: int) -> bytes:
    """File i's bytes: their length and every byte depend on i, so a short or foreign file shows."""
    return (f"{i:05d}".encode() * (40 + (i * 37) % 700))[: 200 + (i * 53) % 3000]


def names(count: int) -> list[str]:
    return [f"f{i:05d}" for i in range(count)]


def assert_prefix(listed: list[str], order: list[str], read, whole: int = 0) -> int:
    """`listed` is a prefix of `order` (as a set); every listed file but the last, and every one
    of the first `whole` (closed before the look), is whole (`read(name)`), the last is a prefix
    of its bytes. Returns the prefix's length."""
    k = len(listed)
    assert set(listed) == set(order[:k]), f"not a prefix: {sorted(set(listed) ^ set(order[:k]))[:10]}"
    for i, name in enumerate(order[:k]):
        data = read(name)
        if i < max(k - 1, whole):
            assert data == content(i), f"{name} ({i} of {k}, {whole} closed) is not whole: {len(data)} bytes"
        else:
            assert content(i).startswith(data), f"{name}, the last, holds foreign bytes"
    return k


@pytest.mark.timeout_seconds(TIMEOUT)
def test_creates_are_answered_locally_and_another_mount_sees_a_prefix_in_order(metrics_server, mount_factory):
    server = metrics_server
    a, b = mount_factory(server, DELEGATION), mount_factory(server)
    os.mkdir(a.mountpoint / "d")
    order = names(400)
    made = threading.Semaphore(0)
    closed = [0]
    failures = []

    def create():
        try:
            for i, name in enumerate(order):
                with open(a.mountpoint / "d" / name, "wb") as f:
                    f.write(content(i))
                closed[0] = i + 1
                made.release()
        except BaseException as error:  # reported by the main thread
            failures.append(error)
            made.release()

    before = test_leases.opcode_counts(server)
    thread = threading.Thread(target=create, daemon=True)
    thread.start()
    for _ in range(150):
        made.acquire()
    # B's look recalls the delegation: it sees what A did so far, in A's order, with the bytes
    # of every file A closed before (close did not wait for them: the recall did).
    whole = closed[0]
    listed = os.listdir(b.mountpoint / "d")
    k = assert_prefix(listed, order, lambda name: (b.mountpoint / "d" / name).read_bytes(), whole=whole)
    assert k >= whole >= 150
    thread.join(TIMEOUT / 2)
    assert not thread.is_alive() and not failures, failures
    assert sorted(os.listdir(b.mountpoint / "d")) == order
    assert all((b.mountpoint / "d" / n).read_bytes() == content(i) for i, n in enumerate(order))
    # The first pool's worth at least (128 staged files: `DelegatedDirectories.refillCount`) went
    # through the log, not as CREATE requests. Past that it depends on speed: a create that finds
    # the pool empty while its refill is on the way goes to the server (ConsistencyContract), and
    # a release build, or this client since its wake-ups were cut, drains the pool first.
    counts = test_leases.moved(before, test_leases.opcode_counts(server))
    assert counts.get("DELEG_CREATE", 0) >= 128, counts
    assert counts.get("CREATE", 0) <= 400 - 128, counts
    # The staging directory is nobody's to see.
    assert ".pohmelfs-staging" not in os.listdir(b.mountpoint)
    with pytest.raises(FileNotFoundError):
        os.stat(b.mountpoint / ".pohmelfs-staging")


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_killed_client_leaves_an_in_order_prefix_on_the_server(server_factory, mount_factory):
    """close returns before the file's bytes are on the server, and the server starts every
    WRITE late (`--test-delay-writes`, test-only), so a create sent after it would be applied
    first: only the log's barrier keeps the next create behind the closed bytes. The server's
    export is looked at while A writes (the prefix holds at every instant), then after A is
    killed."""
    server = server_factory(args=["--test-delay-writes", "30"])
    a = mount_factory(server, DELEGATION)
    os.mkdir(a.mountpoint / "d")
    order = names(3000)
    made = threading.Semaphore(0)
    exported = server.export / "d"

    def create():
        try:
            for i, name in enumerate(order):
                with open(a.mountpoint / "d" / name, "wb") as f:
                    f.write(content(i))
                made.release()
        except OSError:
            made.release()  # the mount died under it

    def sizes_are_a_prefix():
        listed = sorted(os.listdir(exported))
        assert listed == order[: len(listed)], f"not a prefix: {listed[:5]}..."
        for i, name in enumerate(listed[:-1]):
            size = (exported / name).stat().st_size
            assert size == len(content(i)), f"{name} is short while {listed[-1]} exists: {size} bytes"

    thread = threading.Thread(target=create, daemon=True)
    thread.start()
    closed = 0
    while closed < 40:
        closed += made.acquire(timeout=0.005)
        sizes_are_a_prefix()
    a.proc.kill()
    a.proc.wait(timeout=10)
    thread.join(TIMEOUT / 2)
    assert not thread.is_alive(), "a create on a dead mount hung"
    a.unmount()

    def listing():
        return sorted(os.listdir(exported))

    # What the server received before the connection closed is applied by now or soon.
    last = [None]

    def settled():
        now = listing()
        same, last[0] = now == last[0], now
        return same

    assert harness.wait_until(settled, timeout=10, step=0.2)
    k = assert_prefix(listing(), order, lambda name: (exported / name).read_bytes())
    assert k >= 1


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_create_on_a_is_seen_on_b_at_once_after_b_found_the_name_missing(server, mount_factory):
    a, b = mount_factory(server, DELEGATION), mount_factory(server)
    os.mkdir(a.mountpoint / "d")
    (a.mountpoint / "d" / "early").write_bytes(b"early")  # answered locally
    for round in range(20):
        name = f"x{round}"
        with pytest.raises(FileNotFoundError):
            os.stat(b.mountpoint / "d" / name)  # B caches it missing (and recalls D)
        (a.mountpoint / "d" / name).write_bytes(b"late")
        assert (b.mountpoint / "d" / name).read_bytes() == b"late"
    assert (b.mountpoint / "d" / "early").read_bytes() == b"early"


@pytest.mark.timeout_seconds(TIMEOUT)
def test_files_created_under_a_delegation_are_found_without_a_lookup_after_the_entry_timeout(
    metrics_server, mount_factory
):
    """A create answered locally is leased like a CREATE's reply: the kernel keeps the name past
    the mount's 1 s entry timeout, so neither `stat` nor `unlink` needs a LOOKUP."""
    server = metrics_server
    a = mount_factory(server, DELEGATION)
    os.mkdir(a.mountpoint / "d")
    # Enough files that the mount no longer keeps each one's attributes (its write-behind
    # forgets a file once it is closed and written back).
    order = names(600)
    for i, name in enumerate(order):
        (a.mountpoint / "d" / name).write_bytes(content(i) if i % 2 else b"")

    def applied():
        counts = test_leases.opcode_counts(server)
        return counts.get("DELEG_CREATE", 0) + counts.get("CREATE", 0) >= len(order)

    harness.wait_until(applied, timeout=10, step=0.05)
    time.sleep(1.5)  # past the mount's entry_timeout and attr_timeout (1 s)
    before = test_leases.opcode_counts(server)
    for i, name in enumerate(order):
        assert os.stat(a.mountpoint / "d" / name).st_size == (len(content(i)) if i % 2 else 0)
        os.unlink(a.mountpoint / "d" / name)
    counts = test_leases.moved(before, test_leases.opcode_counts(server))
    # (GETATTRs there are: the kernel itself drops a file's attributes after writing it.)
    assert counts.get("LOOKUP", 0) == 0, counts
    assert not os.listdir(a.mountpoint / "d")


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_file_a_created_locally_and_b_changed_is_seen_changed_on_a_at_once(server, mount_factory):
    """The lease A's kernel relies on for a file it created under its delegation is real: B's
    change (after the recall) breaks it, and A sees the new attributes and the name's removal
    without waiting for any timeout."""
    a, b = mount_factory(server, DELEGATION), mount_factory(server)
    os.mkdir(a.mountpoint / "d")
    for i in range(20):
        (a.mountpoint / "d" / f"f{i}").write_bytes(content(i))
        assert os.stat(a.mountpoint / "d" / f"f{i}").st_mode & 0o777 == 0o644
    for i in range(20):
        path = f"f{i}"
        if i % 2 == 0:
            os.chmod(b.mountpoint / "d" / path, 0o600)
            assert os.stat(a.mountpoint / "d" / path).st_mode & 0o777 == 0o600
        else:
            os.unlink(b.mountpoint / "d" / path)
            assert not os.path.exists(a.mountpoint / "d" / path)


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_create_refused_after_it_was_answered_is_reported_once_by_fsync_of_the_directory(server, mount_factory):
    a = mount_factory(server, DELEGATION)
    os.mkdir(a.mountpoint / "d")
    (a.mountpoint / "d" / "first").write_bytes(b"ok")  # answered locally, applied
    # Behind the client's back: the name exists on the server, so applying the create fails.
    (server.export / "d" / "taken").write_bytes(b"theirs")
    directory = os.open(a.mountpoint / "d", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(a.mountpoint / "d" / "taken", os.O_CREAT | os.O_WRONLY, 0o644)  # answered locally
        try:
            os.write(fd, b"ours")
            with pytest.raises(OSError) as raised:
                os.fsync(fd)
            assert raised.value.errno == errno.EEXIST
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
        with pytest.raises(OSError) as raised:
            os.fsync(directory)
        assert raised.value.errno == errno.EEXIST
        os.fsync(directory)  # once per descriptor
    finally:
        os.close(directory)
    # The client's name is gone: what it shows is the server's file.
    assert (a.mountpoint / "d" / "taken").read_bytes() == b"theirs"
    assert (server.export / "d" / "first").read_bytes() == b"ok"


@pytest.mark.timeout_seconds(TIMEOUT)
def test_rm_rf_of_a_tree_a_made_leaves_nothing_for_b(metrics_server, mount_factory):
    server = metrics_server
    a, b = mount_factory(server, DELEGATION), mount_factory(server)
    root = a.mountpoint / "tree"
    start = test_leases.opcode_counts(server)
    os.mkdir(root)
    for d in range(4):
        os.mkdir(root / f"sub{d}")
        for i in range(50):
            (root / f"sub{d}" / f"f{i}").write_bytes(content(i))
    shutil.rmtree(root)
    assert not os.path.exists(b.mountpoint / "tree")
    assert not os.path.exists(server.export / "tree")
    # A create made while the pool was empty went to the server, and so does its unlink; the
    # server counts a request just after answering it.
    counts = [{}]

    def removed_all():
        counts[0] = test_leases.moved(start, test_leases.opcode_counts(server))
        return counts[0].get("DELEG_UNLINK", 0) + counts[0].get("UNLINK", 0) == 200

    harness.wait_until(removed_all, timeout=5, step=0.05)
    counts = counts[0]
    assert counts.get("DELEG_UNLINK", 0) + counts.get("UNLINK", 0) == 200, counts
    assert counts.get("DELEG_UNLINK", 0) == counts.get("DELEG_CREATE", 0) > 100, counts


def as_nobody(directory, action) -> str:
    """Runs `action()` in a child process in `directory` (entered as root: the path above the
    mount is root's alone, so absolute paths would fail there with EACCES) as uid and gid 65534
    with no groups: "done", or "errno N" for the OSError it raised."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        outcome = "done"
        try:
            os.chdir(directory)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            action()
        except OSError as error:
            outcome = f"errno {error.errno}"
        except BaseException as error:  # the child must never return into pytest
            outcome = f"error {error!r}"
        finally:
            os.write(writer, outcome.encode())
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        outcome = pipe.read()
    os.waitpid(child, 0)
    return outcome


def roots_delegated_directory(server, mount_factory, name: str, mode: int, file: str, data: bytes):
    """A mount with allow_other, and `name` made through it by root with `mode` (so delegated to
    it), holding `file` with `data` that root created there (answered locally)."""
    a = mount_factory(server, DELEGATION + ",allow_other")
    directory = a.mountpoint / name
    os.mkdir(directory)
    os.chmod(directory, mode)
    (directory / file).write_bytes(data)
    return a, directory


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


@needs_root
@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_caller_who_may_not_write_a_delegated_directory_cannot_create_there(server, mount_factory):
    _, d = roots_delegated_directory(server, mount_factory, "d", 0o755, "mine", b"root")
    outcome = as_nobody(d, lambda: os.close(os.open("theirs", os.O_CREAT | os.O_WRONLY, 0o644)))
    assert outcome == f"errno {errno.EACCES}"
    assert not (server.export / "d" / "theirs").exists()


@needs_root
@pytest.mark.timeout_seconds(TIMEOUT)
def test_another_user_cannot_unlink_the_holders_file_in_a_sticky_delegated_directory(server, mount_factory):
    # Found by running test_posix_battery with delegation=on: the unlink of a file the holder
    # had created there was answered locally for any caller, so the file vanished from the
    # mount (and the server refused it later, unseen).
    _, shared = roots_delegated_directory(server, mount_factory, "shared", 0o1777, "roots", b"in a sticky dir")
    os.chmod(shared / "roots", 0o666)
    assert as_nobody(shared, lambda: os.unlink("roots")) == f"errno {errno.EPERM}"
    assert (shared / "roots").read_bytes() == b"in a sticky dir"
    os.fsync(fd := os.open(shared, os.O_RDONLY))
    os.close(fd)
    assert (server.export / "shared" / "roots").read_bytes() == b"in a sticky dir"
    # The holder itself still removes what it made there.
    os.unlink(shared / "roots")
    assert not (shared / "roots").exists()


@needs_root
@pytest.mark.timeout_seconds(TIMEOUT)
def test_another_user_is_refused_a_lookup_in_the_holders_private_delegated_directory(server, mount_factory):
    # LOOKUP in a held directory was answered locally for any caller: "absent" (ENOENT) to a
    # user the server refuses with EACCES, and a file the holder made there to anyone.
    a, private = roots_delegated_directory(server, mount_factory, "private", 0o700, "mine", b"root")
    # A name the kernel never looked up, so the question reaches the client.
    assert as_nobody(a.mountpoint, lambda: os.stat("private/missing")) == f"errno {errno.EACCES}"
    assert (private / "mine").read_bytes() == b"root"
