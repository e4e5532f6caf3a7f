"""Processes in parallel on one mount: 8 on different files, each checking its own data
against a model; 4 appending records to one file with O_APPEND, none lost, none torn."""

import hashlib
import os
import random

import pytest

from posix_helpers import describe_difference, pattern, read_all, run_parallel

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

FILE_SIZE = 4 << 20
WRITES_PER_PROCESS = 150


def exercise_own_file(path, seed):
    """Runs in a child: random unaligned writes and reads on its own file, every read checked
    against a model, then the whole file again after reopening. Returns the model's sha256."""
    rng = random.Random(seed)
    model = bytearray(pattern(seed, FILE_SIZE))
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
    try:
        assert os.pwrite(fd, bytes(model), 0) == FILE_SIZE
        for step in range(WRITES_PER_PROCESS):
            offset = rng.randrange(0, FILE_SIZE - 1)
            length = min(rng.choice([1, 100, 4095, 4097, 65_537, 300_000, 1 << 20]), FILE_SIZE - offset)
            data = rng.randbytes(length)
            assert os.pwrite(fd, data, offset) == length
            model[offset:offset + length] = data
            read_offset = rng.randrange(0, FILE_SIZE)
            read_length = rng.choice([1, 4096, 200_001, 1 << 20])
            got = os.pread(fd, read_length, read_offset)
            want = bytes(model[read_offset:read_offset + read_length])
            if got != want:
                raise AssertionError(f"{path} step {step}: " + describe_difference("read", got, want))
        os.fsync(fd)
    finally:
        os.close(fd)
    whole = read_all(path)
    if whole != model:
        raise AssertionError(f"{path} reopened: " + describe_difference("file", whole, bytes(model)))
    return hashlib.sha256(model).hexdigest()


@pytest.mark.timeout_seconds(150)
def test_8_processes_on_different_files(mount):
    paths = [mount.mountpoint / f"worker-{i}" for i in range(8)]
    digests = run_parallel(exercise_own_file, [(path, 1000 + i) for i, path in enumerate(paths)])
    for i, digest in enumerate(digests):
        on_server = mount.server.export / f"worker-{i}"
        assert hashlib.sha256(on_server.read_bytes()).hexdigest() == digest, f"worker-{i} differs on the server"
    assert sorted(os.listdir(mount.mountpoint)) == sorted(p.name for p in paths)


RECORD = 64
RECORDS_PER_PROCESS = 1000


def record(writer, sequence):
    body = f"writer={writer:02d} seq={sequence:06d} "
    check = hashlib.sha256(body.encode()).hexdigest()[:RECORD - len(body) - 1]
    line = (body + check + "\n").encode()
    assert len(line) == RECORD
    return line


def append_records(path, writer):
    """Runs in a child: every record is one write(2) on an O_APPEND descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for sequence in range(RECORDS_PER_PROCESS):
            line = record(writer, sequence)
            written = os.write(fd, line)
            if written != RECORD:
                raise AssertionError(f"writer {writer}: short append of {written} bytes")
    finally:
        os.close(fd)
    return RECORDS_PER_PROCESS


def check_records(data, writers):
    assert len(data) == len(writers) * RECORDS_PER_PROCESS * RECORD, \
        f"{len(data)} bytes, expected {len(writers) * RECORDS_PER_PROCESS * RECORD}"
    seen = {}
    for index in range(0, len(data), RECORD):
        chunk = data[index:index + RECORD]
        try:
            fields = chunk.decode().split()
            writer, sequence = int(fields[0].split("=")[1]), int(fields[1].split("=")[1])
        except (UnicodeDecodeError, IndexError, ValueError):
            raise AssertionError(f"torn record at offset {index}: {chunk!r}") from None
        assert chunk == record(writer, sequence), f"torn record at offset {index}: {chunk!r}"
        assert (writer, sequence) not in seen, f"record {writer}/{sequence} at {seen[(writer, sequence)]} and {index}"
        seen[(writer, sequence)] = index
    for writer in writers:
        # Each writer's records appear in the order it wrote them.
        offsets = [seen[(writer, s)] for s in range(RECORDS_PER_PROCESS)]
        assert offsets == sorted(offsets), f"writer {writer}'s records are out of order"


@pytest.mark.timeout_seconds(150)
def test_4_processes_appending_lose_no_record(mount):
    path = mount.mountpoint / "journal"
    path.write_bytes(b"")
    run_parallel(append_records, [(path, writer) for writer in range(4)])
    check_records(read_all(path), range(4))
    check_records((mount.server.export / "journal").read_bytes(), range(4))


@pytest.mark.timeout_seconds(150)
def test_appending_through_two_mounts_loses_no_record(server, mount_factory):
    """O_APPEND is the server's: two clients appending to one file interleave whole records."""
    first, second = mount_factory(server), mount_factory(server)
    (first.mountpoint / "journal").write_bytes(b"")
    run_parallel(append_records, [(m.mountpoint / "journal", writer)
                                  for writer, m in enumerate([first, second, first, second])])
    check_records((server.export / "journal").read_bytes(), range(4))
