"""Atomic transactions across clients: no read sees part of one 1 MiB write and part of another.

Three mounts of one server. Writer processes on mounts A and B repeatedly write whole 1 MiB
transactions over overlapping, page-unaligned ranges, each transaction filled with its own tag;
a reader process on mount C reads the overlap and the ranges around it. All three use O_DIRECT
with page-aligned buffers, so each 1 MiB write or read is one request (checked below by counting
the server's requests). `torn_read_checker.py` says exactly when a read is torn.

With transaction locks (the default) there must be no torn read in at least 5,000 reads. Against
`pohmelfs serve --unsafe-no-transaction-locks` the same run must find torn reads: the proof that
the checker can fail at all.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import torn_read_checker as trc
from torn_read_checker import INITIAL, MiB, WRITER_A, WRITER_B, Layout, check_read, tag

HERE = Path(__file__).resolve().parent
READS = 5000
MAX_SECONDS = 90  # a cap for slow machines; 5,000 reads take about 35 s on 2 shared cores


# The checker on its own -----------------------------------------------------------------------


class Model:
    """The written span as bytes, with transactions applied one at a time."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.data = bytearray(tag(INITIAL, 0) * ((layout.b_end - layout.a_start) // 8))

    def apply(self, writer: int, seq: int) -> None:
        start, end = self.layout.writer_range(writer)
        base = self.layout.a_start
        self.data[start - base:end - base] = tag(writer, seq) * ((end - start) // 8)

    def read(self, offset: int, size: int) -> bytes:
        base = self.layout.a_start
        return bytes(self.data[offset - base:offset - base + size])


def test_checker_accepts_every_serial_state():
    layout = Layout()
    model = Model(layout)
    rng = random.Random(4)
    seqs = {WRITER_A: 0, WRITER_B: 0}
    for step in range(60):
        for name, offset, size in layout.read_regions():
            verdict = check_read(layout, offset, model.read(offset, size))
            assert verdict.status == "ok", (step, name, verdict)
        writer = rng.choice([WRITER_A, WRITER_B])
        seqs[writer] += 1
        model.apply(writer, seqs[writer])


def test_checker_flags_a_read_that_straddles_a_transaction():
    """A read that copies the file while a write is applied sees the old bytes on one side of some
    point and the new on the other: torn, wherever the point falls inside what the write changed."""
    layout = Layout()
    rng = random.Random(5)
    before = Model(layout)
    before.apply(WRITER_A, 1)
    before.apply(WRITER_B, 1)
    for writer in (WRITER_A, WRITER_B):
        after = Model(layout)
        after.data[:] = before.data
        after.apply(writer, 2)
        start, end = layout.writer_range(writer)
        for name, offset, size in layout.read_regions():
            lo, hi = max(start, offset), min(end, offset + size)
            if lo >= hi:
                continue
            for _ in range(20):
                cut = rng.randrange(lo + 8, hi, 8)  # old below the cut, new above it, or the reverse
                old, new = before.read(offset, size), after.read(offset, size)
                for mixed in (old[:cut - offset] + new[cut - offset:], new[:cut - offset] + old[cut - offset:]):
                    verdict = check_read(layout, offset, mixed)
                    assert verdict.status == "torn", (writer, name, cut, verdict)


def test_checker_flags_segments_that_disagree():
    """Each segment uniform, yet no serial order gives it: the overlap says A's transaction 3 was
    the last of all, but A's own part holds transaction 2."""
    layout = Layout()
    model = Model(layout)
    model.apply(WRITER_A, 2)
    model.apply(WRITER_B, 1)
    start = layout.b_start - layout.a_start
    model.data[start:layout.a_end - layout.a_start] = tag(WRITER_A, 3) * ((layout.a_end - layout.b_start) // 8)
    verdict = check_read(layout, layout.a_start, model.read(layout.a_start, MiB))
    assert verdict.status == "torn" and "a_only" in verdict.reason, verdict
    # The overlap alone is a serial state: nothing to flag there.
    assert check_read(layout, layout.b_start, model.read(layout.b_start, layout.a_end - layout.b_start)).status == "ok"
    # The initial tag in the overlap means no one has written yet: B's part must be initial too.
    model = Model(layout)
    model.apply(WRITER_B, 1)
    model.data[start:layout.a_end - layout.a_start] = tag(INITIAL, 0) * ((layout.a_end - layout.b_start) // 8)
    assert check_read(layout, layout.b_start, model.read(layout.b_start, MiB)).status == "torn"


def test_checker_calls_foreign_bytes_invalid_not_torn():
    layout = Layout()
    model = Model(layout)
    zeroed = bytearray(model.read(layout.a_start, MiB))
    zeroed[4096:8192] = bytes(4096)
    assert check_read(layout, layout.a_start, bytes(zeroed)).status == "invalid"
    misplaced = bytearray(model.read(layout.a_start, MiB))
    misplaced[:8] = tag(WRITER_B, 1)  # B never writes below its start
    verdict = check_read(layout, layout.a_start, bytes(misplaced))
    assert verdict.status == "invalid" and "writer 2" in verdict.reason, verdict


# Against a real server --------------------------------------------------------------------------

_REQUESTS = re.compile(r"^STATUS=.* (\d+) requests served")


def settled_request_count(server, fresh: int = 2, timeout: float = 10) -> int:
    """The server's request counter from a STATUS= line sent after everything before this call
    had finished: waits for `fresh` new STATUS lines (the server runs with WATCHDOG_USEC set, so
    it sends one every 0.1 s) and reads the last."""
    def statuses():
        return [m.group(1) for line in server.notify.assignments() if (m := _REQUESTS.match(line))]

    start = len(statuses())
    deadline = time.monotonic() + timeout
    while len(statuses()) < start + fresh:
        assert time.monotonic() < deadline, "the server sent no STATUS= lines"
        time.sleep(0.05)
    return int(statuses()[-1])


def assert_one_request_per_transfer(server, path_for_reads: Path, path_for_writes: Path, layout: Layout):
    """A 1 MiB O_DIRECT preadv returns 1 MiB, and 1 MiB reads and writes each cost the server one
    request (if the kernel split them, the count would at least double)."""
    count = 8
    buf = trc.aligned_buffer(MiB)
    fd = os.open(path_for_reads, os.O_RDONLY | os.O_DIRECT)
    try:
        assert os.preadv(fd, [buf], layout.a_start) == MiB, "a 1 MiB O_DIRECT read came back short"
        before = settled_request_count(server)
        for _ in range(count):
            assert os.preadv(fd, [buf], layout.a_start) == MiB
        reads = settled_request_count(server) - before
    finally:
        os.close(fd)
    assert buf[:] == tag(INITIAL, 0) * (MiB // 8)
    fd = os.open(path_for_writes, os.O_WRONLY | os.O_DIRECT)
    try:
        assert os.pwritev(fd, [buf], layout.a_start) == MiB
        before = settled_request_count(server)
        for _ in range(count):
            assert os.pwritev(fd, [buf], layout.a_start) == MiB
        writes = settled_request_count(server) - before
    finally:
        os.close(fd)
    print(f"requests for {count} x 1 MiB O_DIRECT: reads {reads}, writes {writes}")
    assert count <= reads < 2 * count and count <= writes < 2 * count, (
        f"{count} reads cost {reads} requests and {count} writes {writes}: 1 MiB transfers are being split")


def run_workload(registry, tmp_path, paths, *, stop_after_torn: int) -> tuple[dict, list[dict]]:
    stop = tmp_path / "stop-writers"
    checker = [sys.executable, str(HERE / "torn_read_checker.py")]
    writers = [
        registry.spawn([*checker, "writer", "--path", paths[i], "--writer", str(writer), "--stop-file", stop,
                        "--max-seconds", str(MAX_SECONDS + 30)],
                       stdout=subprocess.PIPE, log=None, label=f"writer {writer}")
        for i, writer in enumerate((WRITER_A, WRITER_B))
    ]
    reader = registry.spawn(
        [*checker, "reader", "--path", paths[2], "--reads", str(READS), "--max-seconds", str(MAX_SECONDS),
         "--stop-after-torn", str(stop_after_torn)],
        stdout=subprocess.PIPE)
    try:
        out, _ = reader.communicate(timeout=MAX_SECONDS + 30)
    finally:
        stop.touch()
    assert reader.returncode == 0, f"reader failed with status {reader.returncode}: {out!r}"
    results = []
    for writer in writers:
        wout, _ = writer.communicate(timeout=30)
        assert writer.returncode == 0, f"writer failed with status {writer.returncode}: {wout!r}"
        results.append(json.loads(wout))
    return json.loads(out), results


@pytest.mark.timeout_seconds(MAX_SECONDS + 90)
@pytest.mark.parametrize("locking", ["on", "off"])
def test_torn_reads(locking, server_factory, mount_factory, registry, tmp_path, record_property):
    """Writers on mounts A and B, a reader on mount C: no torn read with transaction locks; torn
    reads found without them."""
    args = () if locking == "on" else ("--unsafe-no-transaction-locks",)
    server = server_factory(args=args, env={**os.environ, "WATCHDOG_USEC": "200000"})
    mounts = [mount_factory(server) for _ in range(3)]
    paths = [m.mountpoint / "torn" for m in mounts]
    layout = Layout()
    trc.initialize(str(paths[0]), layout)
    assert os.stat(paths[2]).st_size == layout.b_end
    assert_one_request_per_transfer(server, paths[2], paths[0], layout)

    reader, writers = run_workload(registry, tmp_path, paths, stop_after_torn=0 if locking == "on" else 20)
    summary = (f"torn reads, transaction locking {locking}: {reader['reads']} reads in {reader['seconds']} s, "
               f"{reader['torn']} torn, {reader['invalid']} invalid; writes A {writers[0]['writes']}, "
               f"B {writers[1]['writes']}; distinct transactions seen A {reader['distinct_transactions_seen']['A']}, "
               f"B {reader['distinct_transactions_seen']['B']}")
    print(summary)
    print("per region:", json.dumps(reader["per_region"]))
    for example in reader["examples"]:
        print("example:", json.dumps(example))
    record_property("torn_read_summary", summary)

    assert reader["invalid"] == 0, f"bytes no writer wrote: {reader['examples']}"
    # The run must really have been concurrent: both writers busy, the reader seeing both.
    assert min(w["writes"] for w in writers) >= 20, writers
    assert min(reader["distinct_transactions_seen"].values()) >= 5, reader
    if locking == "on":
        assert reader["reads"] >= READS, f"only {reader['reads']} reads in {MAX_SECONDS} s"
        assert reader["torn"] == 0, f"{reader['torn']} torn reads: {reader['examples']}"
    else:
        assert reader["torn"] > 0, (
            f"no torn read in {reader['reads']} reads without transaction locks: the checker proves nothing")
