"""A model-based random exerciser in the spirit of fsx: random writes, reads, truncates,
fallocate (punch hole, zero range), copy_file_range and mmap reads and writes on one file of a
few MiB, every read checked against an in-memory model. Run through the page cache and with
cache=none (direct I/O, where the kernel allows no shared mmap, so those operations are left out).

The seed is printed (`fsx seed N`, shown by pytest for a failing test) and can be replayed with
POHMELFS_FSX_SEED=N; POHMELFS_FSX_OPS changes the number of operations (default 10000, a new seed each run). A
mismatch reports the seed, the operation and the last operations before it.
"""

import collections
import errno
import mmap
import os
import random
import time

import pytest

from posix_helpers import (
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    describe_difference,
    fallocate,
    read_all,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

MAX_FILE = 4 << 20  # the file never grows past this
OPERATIONS = int(os.environ.get("POHMELFS_FSX_OPS", "10000"))

WEIGHTS = {
    "write": 24, "read": 24, "truncate": 5, "punch": 6, "zero": 6, "copy": 8,
    "mapread": 8, "mapwrite": 8, "reopen": 1,
}


class Mismatch(AssertionError):
    pass


class Exerciser:
    def __init__(self, path, server_path, seed, *, mmap_allowed=True):
        self.path = path
        self.server_path = server_path
        self.seed = seed
        self.rng = random.Random(seed)
        self.model = bytearray()
        self.log = collections.deque(maxlen=40)
        self.count = 0
        self.mmap_allowed = mmap_allowed
        self.stats = collections.Counter()
        self.seconds = collections.Counter()
        self.fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
        self.ops = [name for name in WEIGHTS if mmap_allowed or not name.startswith("map")]
        self.weights = [WEIGHTS[name] for name in self.ops]

    # Choosing offsets and lengths ---------------------------------------------------------------

    def length(self, maximum=1 << 20):
        r = self.rng.random()
        if r < 0.6:
            n = self.rng.randint(1, 4096)
        elif r < 0.93:
            n = self.rng.randint(1, 64 << 10)
        else:
            n = self.rng.randint(1, maximum)
        return min(n, maximum)

    def offset(self, limit):
        """An offset in [0, limit): unaligned mostly, page-aligned sometimes, near the end often."""
        if limit <= 0:
            return 0
        r = self.rng.random()
        if r < 0.2:
            return self.rng.randrange(0, limit) & ~4095
        if r < 0.4:
            return max(0, limit - self.rng.randint(1, 8192))
        return self.rng.randrange(0, limit)

    # Bookkeeping ---------------------------------------------------------------------------------

    def note(self, text):
        self.log.append(f"#{self.count} {text} (size before {len(self.model)})")

    def fail(self, message):
        tail = "\n".join(self.log)
        raise Mismatch(f"fsx seed {self.seed}: operation #{self.count}: {message}\n"
                       f"replay with POHMELFS_FSX_SEED={self.seed}\nlast operations:\n{tail}")

    def check(self, what, got, offset, length):
        want = bytes(self.model[offset:offset + length])
        if got != want:
            self.fail(describe_difference(f"{what} of {length} at {offset}", got, want)
                      + f" (difference at file offset {offset}+)")

    def check_size(self):
        size = os.fstat(self.fd).st_size
        if size != len(self.model):
            self.fail(f"file size {size}, model {len(self.model)}")

    def extend_to(self, end):
        if end > len(self.model):
            self.model += bytes(end - len(self.model))

    # Operations --------------------------------------------------------------------------------

    def op_write(self):
        offset = self.offset(min(len(self.model) + (64 << 10), MAX_FILE - 1))
        length = min(self.length(), MAX_FILE - offset)
        data = self.rng.randbytes(length)
        self.note(f"write {offset:#x} +{length:#x}")
        written = os.pwrite(self.fd, data, offset)
        if written != length:
            self.fail(f"pwrite of {length} at {offset} wrote {written}")
        self.extend_to(offset + length)
        self.model[offset:offset + length] = data

    def op_read(self):
        offset = self.offset(len(self.model) + 4096)
        length = self.length()
        self.note(f"read {offset:#x} +{length:#x}")
        self.check("read", os.pread(self.fd, length, offset), offset, length)

    def op_truncate(self):
        size = self.rng.choice([0, self.offset(MAX_FILE), self.offset(len(self.model) + 1),
                                self.offset(len(self.model) + (256 << 10))])
        size = min(size, MAX_FILE)
        self.note(f"truncate to {size:#x}")
        os.ftruncate(self.fd, size)
        if size < len(self.model):
            del self.model[size:]
        else:
            self.extend_to(size)

    def op_punch(self):
        if not self.model:
            return self.op_write()
        offset = self.offset(len(self.model))
        length = self.length()
        self.note(f"punch_hole {offset:#x} +{length:#x}")
        fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)
        end = min(offset + length, len(self.model))
        self.model[offset:end] = bytes(end - offset)

    def op_zero(self):
        keep = self.rng.random() < 0.5
        offset = self.offset(min(len(self.model) + (64 << 10), MAX_FILE - 1))
        length = min(self.length(), MAX_FILE - offset)
        self.note(f"zero_range {offset:#x} +{length:#x}{' keep_size' if keep else ''}")
        fallocate(self.fd, FALLOC_FL_ZERO_RANGE | (FALLOC_FL_KEEP_SIZE if keep else 0), offset, length)
        end = offset + length if not keep else min(offset + length, len(self.model))
        if end > offset:
            self.extend_to(end)
            self.model[offset:end] = bytes(end - offset)

    def op_copy(self):
        if not self.model:
            return self.op_write()
        source = self.offset(len(self.model))
        length = self.length()
        destination = self.offset(min(len(self.model) + (64 << 10), MAX_FILE - 1))
        length = min(length, MAX_FILE - destination)
        available = max(0, min(length, len(self.model) - source))
        # copy_file_range within one file refuses overlapping ranges (EINVAL): move the
        # destination past the source range when they would overlap.
        if destination < source + length and source < destination + length:
            destination = source + length + self.rng.randint(0, 4096)
            if destination + length > MAX_FILE:
                return self.op_read()
        self.note(f"copy_file_range {source:#x} -> {destination:#x} +{length:#x}")
        # One call for the whole length (so the end of file must clip it), then more only for
        # what is left below the end of file as it was: once the copy extends the file, bytes
        # past the old end exist, and asking for them would copy data the model did not mean.
        done = os.copy_file_range(self.fd, self.fd, length, source, destination)
        while 0 < done < available:
            n = os.copy_file_range(self.fd, self.fd, available - done, source + done, destination + done)
            if n == 0:
                break
            done += n
        if done != available:
            self.fail(f"copy_file_range copied {done} bytes, expected {available}")
        data = bytes(self.model[source:source + available])
        if available:
            self.extend_to(destination + available)
            self.model[destination:destination + available] = data

    def mapped(self):
        return mmap.mmap(self.fd, len(self.model), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def op_mapread(self):
        if not self.model:
            return self.op_write()
        offset = self.offset(len(self.model))
        length = min(self.length(), len(self.model) - offset)
        self.note(f"mapread {offset:#x} +{length:#x}")
        with self.mapped() as view:
            got = view[offset:offset + length]
        self.check("mapread", got, offset, length)

    def op_mapwrite(self):
        if not self.model:
            return self.op_write()
        offset = self.offset(len(self.model))
        length = min(self.length(), len(self.model) - offset)
        data = self.rng.randbytes(length)
        self.note(f"mapwrite {offset:#x} +{length:#x}")
        with self.mapped() as view:
            view[offset:offset + length] = data
            view.flush()  # msync(MS_SYNC), as fsx does
        self.model[offset:offset + length] = data

    def op_reopen(self):
        """Close and open again: close-to-open drops the cached pages, so the next reads come
        from the server."""
        self.note("close and reopen")
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDWR)

    # Running -------------------------------------------------------------------------------------

    def run(self, operations):
        try:
            for self.count in range(1, operations + 1):
                name = self.rng.choices(self.ops, self.weights)[0]
                self.stats[name] += 1
                started = time.monotonic()
                try:
                    getattr(self, "op_" + name)()
                except OSError as e:
                    self.fail(f"{name} failed: {errno.errorcode.get(e.errno, e.errno)} {e}")
                self.seconds[name] += time.monotonic() - started
                if self.count % 500 == 0:
                    self.check_size()
                if self.count % 4000 == 0:
                    self.note("full read")
                    self.check("full read", os.pread(self.fd, MAX_FILE + 1, 0), 0, MAX_FILE + 1)
            self.check_size()
            os.fsync(self.fd)
        finally:
            os.close(self.fd)
        whole = read_all(self.path)
        if whole != self.model:
            self.fail(describe_difference("the file, reopened", whole, bytes(self.model)))
        on_server = self.server_path.read_bytes()
        if on_server != self.model:
            self.fail(describe_difference("the server's file", on_server, bytes(self.model)))


def seed_from_environment():
    value = os.environ.get("POHMELFS_FSX_SEED")
    return int(value, 0) if value else random.SystemRandom().randrange(1 << 32)


def mmap_works(directory):
    """Whether a shared writable mapping of a file in `directory` is possible: with cache=none
    (FUSE direct_io) the kernel refuses it (ENODEV) unless the filesystem may allow it."""
    fd = os.open(directory / "mmap-probe", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, bytes(4096))
        try:
            mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE).close()
            return True
        except OSError as e:
            assert e.errno == errno.ENODEV, e
            return False
    finally:
        os.close(fd)
        os.unlink(directory / "mmap-probe")


@pytest.mark.timeout_seconds(180)
@pytest.mark.parametrize("options", ["", "cache=none"], ids=["page-cache", "direct-io"])
def test_fsx_random_operations_match_the_model(server, mount_factory, options):
    mount = mount_factory(server, options=options)
    seed = seed_from_environment()
    print(f"fsx seed {seed}")
    with_mmap = mmap_works(mount.mountpoint)
    if not options:
        assert with_mmap, "shared writable mmap must work through the page cache"
    exerciser = Exerciser(mount.mountpoint / "fsx-file", mount.server.export / "fsx-file", seed,
                          mmap_allowed=with_mmap)
    exerciser.run(OPERATIONS)
    print(f"fsx: {OPERATIONS} operations, final size {len(exerciser.model)}; count and mean ms per kind: " +
          ", ".join(f"{name} {count} {1000 * exerciser.seconds[name] / count:.2f}"
                    for name, count in sorted(exerciser.stats.items())))
    assert sum(exerciser.stats.values()) == OPERATIONS


class TwoMountExerciser(Exerciser):
    """Issue 5: the same exerciser with two mounts of one server taking turns on one file,
    checked against one model. Before each operation a mount is chosen at random, so every read
    tests that the other mount's last change was invalidated in this mount's cache before it was
    acknowledged (writes, mmap writes after msync, truncates, punched holes, copies)."""

    def __init__(self, path_a, path_b, server_path, seed, *, mmap_allowed=True):
        super().__init__(path_a, server_path, seed, mmap_allowed=mmap_allowed)
        self.sides = [(path_a, self.fd), (path_b, os.open(path_b, os.O_RDWR))]
        self.side = 0
        copy = self.op_copy

        def copy_after_fstat():
            # copy_file_range(2) checks the source range against the kernel's cached i_size
            # (generic_copy_file_checks) before the filesystem is asked, and an invalidation only
            # marks attributes stale: without a getattr first, a copy right after the other mount
            # extended the file copies short. fstat refreshes it, as an application that learns
            # the size first does (a FUSE/VFS limit, documented in the consistency contract).
            os.fstat(self.fd)
            copy()
        self.op_copy = copy_after_fstat
        for name in WEIGHTS:
            setattr(self, "op_" + name, self.on_a_random_mount(getattr(self, "op_" + name)))

    def on_a_random_mount(self, operation):
        def run():
            self.sides[self.side] = (self.path, self.fd)  # op_reopen may have replaced the fd
            self.side = self.rng.randrange(2)
            self.path, self.fd = self.sides[self.side]
            self.note(f"on mount {'AB'[self.side]}")
            operation()
        return run

    def close_other_side(self):
        """`run` closes the current side's descriptor; this closes the other one."""
        os.close(self.sides[1 - self.side][1])


@pytest.mark.timeout_seconds(240)
def test_fsx_two_mounts_taking_turns_match_one_model(server, mount_factory):
    a, b = mount_factory(server), mount_factory(server)
    seed = seed_from_environment()
    print(f"fsx seed {seed}")
    (a.mountpoint / "fsx-file").write_bytes(b"")
    exerciser = TwoMountExerciser(
        a.mountpoint / "fsx-file", b.mountpoint / "fsx-file", server.export / "fsx-file", seed)
    try:
        exerciser.run(OPERATIONS)
    finally:
        exerciser.close_other_side()
    print(f"fsx on two mounts: {OPERATIONS} operations, final size {len(exerciser.model)}")
    assert sum(exerciser.stats.values()) == OPERATIONS
