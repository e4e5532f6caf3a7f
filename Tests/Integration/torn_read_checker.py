"""Writers, a reader and an exact torn-read checker for test_torn_reads.py.

Run as a program, it is one of the processes of that test:

    torn_read_checker.py writer --path P --writer 1|2 --stop-file S [--max-seconds N]
    torn_read_checker.py reader --path P --reads N --max-seconds N [--stop-after-torn K]

Both use O_DIRECT with page-aligned (mmap-allocated) buffers of at most 1 MiB, so every write and
every read travels to the server as one request (the mount negotiates max_read and max_write of
1 MiB), and both print one JSON object on stdout when they finish.

The layout (`Layout`): writer A (1) writes [A, A + 1 MiB), writer B (2) writes [B, B + 1 MiB),
with A and B page-unaligned and the ranges overlapping. That splits the file into three segments:

    A-only  [A, B)          written only by A
    overlap [B, A + 1 MiB)  written by both
    B-only  [A + 1 MiB, B + 1 MiB)  written only by B

Every 8-byte word a transaction writes (at an 8-aligned file offset) is the same tag, encoding a
magic number, the writer and the writer's sequence number, so each word says which transaction
wrote it. Before the writers start, the whole span is filled with the tag of writer 0, seq 0.

A read is correct if and only if its bytes are a state the file passes through when transactions
are applied one at a time (each WRITE atomic, each READ atomic). In such a state:

1. each segment the read covers holds exactly one tag (every transaction covers each of its
   segments completely, so the last one to write a segment wrote all of it);
2. if the overlap holds writer w's tag (w's transaction is the latest of all, since every
   transaction covers the overlap), then w's own segment, where the read covers it, holds the
   same tag; for the initial tag (w = 0), both own segments hold the initial tag;
3. a tag is only ever found where its writer writes (A's tag never in B-only, and so on).

A read breaking rule 1 or 2 is TORN; one breaking rule 3 or holding a word that is not a tag at
all is INVALID (corruption, not a race). Conversely every read satisfying all three is a state of
some serial order, so the checker is exact: it neither misses a torn read nor flags a good one.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import struct
import sys
import time
from dataclasses import dataclass

MiB = 1 << 20
WORD = 8
MAGIC = 0x7EA5
INITIAL = 0
WRITER_A = 1
WRITER_B = 2


def tag(writer: int, seq: int) -> bytes:
    """The 8-byte word every word of transaction (writer, seq) consists of."""
    assert 0 <= writer < 256 and 0 <= seq < (1 << 40)
    return struct.pack("<Q", (MAGIC << 48) | (writer << 40) | seq)


def untag(word: int) -> tuple[int, int] | None:
    """(writer, seq) of a word read as a little-endian integer, or None if it is not a tag."""
    if word >> 48 != MAGIC:
        return None
    return (word >> 40) & 0xFF, word & ((1 << 40) - 1)


@dataclass(frozen=True)
class Layout:
    """Where the two writers write. Both starts must be 8-aligned (so the tags line up with file
    offsets) and should be page-unaligned (the point of the test)."""

    a_start: int = 1000
    b_start: int = 1000 + 300_000
    length: int = MiB

    def __post_init__(self):
        assert self.a_start % WORD == 0 and self.b_start % WORD == 0 and self.length % WORD == 0
        assert self.a_start < self.b_start < self.a_start + self.length

    @property
    def a_end(self) -> int:
        return self.a_start + self.length

    @property
    def b_end(self) -> int:
        return self.b_start + self.length

    def writer_range(self, writer: int) -> tuple[int, int]:
        return {WRITER_A: (self.a_start, self.a_end), WRITER_B: (self.b_start, self.b_end)}[writer]

    def segments(self) -> list[tuple[str, int, int, set[int]]]:
        """(name, start, end, writers allowed there), in file order."""
        return [
            ("a_only", self.a_start, self.b_start, {INITIAL, WRITER_A}),
            ("overlap", self.b_start, self.a_end, {INITIAL, WRITER_A, WRITER_B}),
            ("b_only", self.a_end, self.b_end, {INITIAL, WRITER_B}),
        ]

    def read_regions(self) -> list[tuple[str, int, int]]:
        """(name, offset, size) of the reads the reader cycles through; each at most 1 MiB."""
        spanning = self.a_start + (self.b_start - self.a_start) // 2 // WORD * WORD
        regions = [
            ("overlap", self.b_start, self.a_end - self.b_start),
            ("range_a", self.a_start, self.length),
            ("range_b", self.b_start, self.length),
            ("spanning", spanning, min(self.length, self.b_end - spanning)),
        ]
        for _, offset, size in regions:
            assert offset % WORD == 0 and size % WORD == 0 and 0 < size <= MiB
        return regions


def segment_tags(data: bytes) -> set[bytes]:
    """The distinct 8-byte words of `data` (fast when they are all the same)."""
    first = data[:WORD]
    if data == first * (len(data) // WORD):
        return {first}
    view = memoryview(data).cast("Q")
    return {struct.pack("<Q", w) for w in set(view)}


@dataclass
class Verdict:
    status: str  # "ok", "torn" or "invalid"
    tags: dict[str, list[tuple[int, int] | None]]  # per covered segment: its distinct (writer, seq)
    reason: str = ""

    def to_json(self) -> dict:
        return {"status": self.status, "reason": self.reason,
                "tags": {k: [list(t) if t else None for t in v[:6]] + (["..."] if len(v) > 6 else [])
                         for k, v in self.tags.items()}}


def check_read(layout: Layout, offset: int, data: bytes) -> Verdict:
    """Classifies the bytes `data` read at `offset` (see the module docstring for the rules)."""
    assert offset % WORD == 0 and len(data) % WORD == 0
    end = offset + len(data)
    assert layout.a_start <= offset and end <= layout.b_end, "read outside the written span"
    found: dict[str, list[tuple[int, int] | None]] = {}
    single: dict[str, tuple[int, int]] = {}
    invalid = []
    for name, start, stop, allowed in layout.segments():
        lo, hi = max(start, offset), min(stop, end)
        if lo >= hi:
            continue
        words = segment_tags(data[lo - offset:hi - offset])
        pairs = sorted((untag(struct.unpack("<Q", w)[0]) for w in words), key=lambda p: (p is None, p))
        found[name] = pairs
        for pair in pairs:
            if pair is None:
                invalid.append(f"{name}: a word that is not a tag")
            elif pair[0] not in allowed:
                invalid.append(f"{name}: tag of writer {pair[0]}, who never writes there")
        if len(pairs) == 1 and pairs[0] is not None:
            single[name] = pairs[0]
    if invalid:
        return Verdict("invalid", found, "; ".join(invalid))
    torn = [f"{name} holds {len(pairs)} transactions" for name, pairs in found.items() if len(pairs) > 1]
    if torn:
        return Verdict("torn", found, "; ".join(torn))
    latest = single.get("overlap")
    if latest is not None:
        own = {WRITER_A: ["a_only"], WRITER_B: ["b_only"], INITIAL: ["a_only", "b_only"]}[latest[0]]
        for name in own:
            if name in single and single[name] != latest:
                return Verdict("torn", found, f"overlap holds {latest} but {name} holds {single[name]}")
    return Verdict("ok", found)


# The processes ---------------------------------------------------------------------------------


def aligned_buffer(size: int) -> mmap.mmap:
    """An anonymous mapping: page-aligned, as O_DIRECT wants, so `size` bytes span size/PAGE
    pages and a 1 MiB transfer fits one FUSE request."""
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def initialize(path: str, layout: Layout) -> None:
    """Fills the whole span with the initial tag (with O_DIRECT, so no client caches it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    try:
        size = layout.b_end - layout.a_start
        buf = aligned_buffer(MiB)
        done = 0
        while done < size:
            chunk = min(MiB, size - done)
            buf[:chunk] = tag(INITIAL, 0) * (chunk // WORD)
            assert os.pwritev(fd, [memoryview(buf)[:chunk]], layout.a_start + done) == chunk
            done += chunk
    finally:
        os.close(fd)


def layout_at(a_start: int) -> Layout:
    """The default layout moved so that writer A starts at `a_start` (8-aligned)."""
    return Layout(a_start=a_start, b_start=a_start + 300_000)


def run_writer(args) -> dict:
    layout = layout_at(args.a_start)
    start, end = layout.writer_range(args.writer)
    fd = os.open(args.path, os.O_WRONLY | os.O_DIRECT)
    buf = aligned_buffer(layout.length)
    writes = 0
    began = time.monotonic()
    deadline = began + args.max_seconds
    try:
        while not os.path.exists(args.stop_file) and time.monotonic() < deadline:
            buf[:] = tag(args.writer, writes + 1) * (layout.length // WORD)
            written = os.pwritev(fd, [buf], start)
            if written != layout.length:
                raise SystemExit(f"writer {args.writer}: short write of {written} bytes at {start}")
            writes += 1
    finally:
        os.close(fd)
    return {"writer": args.writer, "writes": writes, "seconds": round(time.monotonic() - began, 3)}


def run_reader(args) -> dict:
    layout = layout_at(args.a_start)
    regions = layout.read_regions()
    fd = os.open(args.path, os.O_RDONLY | os.O_DIRECT)
    buf = aligned_buffer(MiB)
    counts = {"ok": 0, "torn": 0, "invalid": 0}
    per_region = {name: {"ok": 0, "torn": 0, "invalid": 0} for name, _, _ in regions}
    examples = []
    seen = {WRITER_A: set(), WRITER_B: set(), INITIAL: set()}
    reads = 0
    began = time.monotonic()
    deadline = began + args.max_seconds
    try:
        while reads < args.reads and time.monotonic() < deadline:
            if args.stop_after_torn and counts["torn"] + counts["invalid"] >= args.stop_after_torn:
                break
            name, offset, size = regions[reads % len(regions)]
            got = os.preadv(fd, [memoryview(buf)[:size]], offset)
            if got != size:
                raise SystemExit(f"reader: short read of {got} bytes at {offset} (wanted {size})")
            verdict = check_read(layout, offset, buf[:size])
            reads += 1
            counts[verdict.status] += 1
            per_region[name][verdict.status] += 1
            for pairs in verdict.tags.values():
                for pair in pairs:
                    if pair is not None and pair[0] in seen:
                        seen[pair[0]].add(pair[1])
            if verdict.status != "ok" and len(examples) < 5:
                examples.append({"read": reads, "region": name, "offset": offset, "size": size,
                                 **verdict.to_json()})
    finally:
        os.close(fd)
    return {"reads": reads, **counts, "per_region": per_region, "examples": examples,
            "distinct_transactions_seen": {"A": len(seen[WRITER_A]), "B": len(seen[WRITER_B])},
            "seconds": round(time.monotonic() - began, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    w = sub.add_parser("writer")
    w.add_argument("--path", required=True)
    w.add_argument("--writer", type=int, choices=[WRITER_A, WRITER_B], required=True)
    w.add_argument("--stop-file", required=True)
    w.add_argument("--max-seconds", type=float, default=120)
    w.add_argument("--a-start", type=int, default=Layout.a_start)
    r = sub.add_parser("reader")
    r.add_argument("--path", required=True)
    r.add_argument("--reads", type=int, default=5000)
    r.add_argument("--max-seconds", type=float, default=60)
    r.add_argument("--stop-after-torn", type=int, default=0)
    r.add_argument("--a-start", type=int, default=Layout.a_start)
    args = parser.parse_args(argv)
    result = run_writer(args) if args.role == "writer" else run_reader(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
