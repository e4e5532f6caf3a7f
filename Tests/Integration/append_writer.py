"""One O_APPEND writer for test_append.py.

    append_writer.py FILE WRITER RECORDS SEED

Opens FILE with O_WRONLY|O_APPEND and writes RECORDS self-checking records, one write(2)
each, of 100 to 8,000 bytes (sizes drawn from SEED). A record is:

    magic "APND" | u32 total length | u8 writer | u32 sequence | payload | u32 crc32 of all before

Prints the number of bytes written. A short write is an error (exit 1).
"""

import os
import random
import struct
import sys
import zlib

MAGIC = b"APND"
HEADER = struct.Struct("<4sIBI")
TRAILER = struct.Struct("<I")
MINIMUM, MAXIMUM = 100, 8000


def record(writer: int, sequence: int, size: int) -> bytes:
    payload_size = size - HEADER.size - TRAILER.size
    fill = bytes([(writer * 37 + sequence) % 251 + 1]) * payload_size
    body = HEADER.pack(MAGIC, size, writer, sequence) + fill
    return body + TRAILER.pack(zlib.crc32(body))


def parse(data: bytes) -> tuple[dict[int, int], list[str]]:
    """Walks a file of records from the start: per writer, how many whole records; the problems
    found (a bad record ends the walk, as nothing after it can be trusted)."""
    counts: dict[int, int] = {}
    problems: list[str] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER.size:
            problems.append(f"{len(data) - offset} trailing bytes at {offset}")
            break
        magic, size, writer, sequence = HEADER.unpack_from(data, offset)
        if magic != MAGIC or not MINIMUM <= size <= MAXIMUM or offset + size > len(data):
            problems.append(f"no record header at {offset} (found {data[offset:offset + 16]!r})")
            break
        body = data[offset:offset + size - TRAILER.size]
        (crc,) = TRAILER.unpack_from(data, offset + size - TRAILER.size)
        if crc != zlib.crc32(body) or body != record(writer, sequence, size)[:-TRAILER.size]:
            problems.append(f"record at {offset} (writer {writer}, #{sequence}, {size} bytes) is torn")
            break
        counts[writer] = counts.get(writer, 0) + 1
        offset += size
    return counts, problems


def assert_appends_land_whole(mountpoints, records: int, registry, tmp_path, timeout: float) -> int:
    """Runs this script as one O_APPEND writer per mountpoint (writer i on mountpoint i, `records`
    records each) into `log`, which must exist; then every mount must read every record whole and
    contiguous, none lost, and the size the sum of what was written (returned). For the tests'
    `registry`."""
    import subprocess
    from pathlib import Path

    writers = []
    for index, mountpoint in enumerate(mountpoints):
        log = tmp_path / f"append-writer-{index}.log"
        registry.logs.append((f"append writer {index}", log))
        with open(log, "wb") as stderr:
            writers.append(registry.spawn(
                [sys.executable, Path(__file__).resolve(), mountpoint / "log", str(index), str(records),
                 str(1000 + index)], stdout=subprocess.PIPE, stderr=stderr))
    written = 0
    for writer in writers:
        out, _ = writer.communicate(timeout=timeout)
        assert writer.returncode == 0, f"a writer failed (exit {writer.returncode})"
        written += int(out)
    for mountpoint in mountpoints:
        data = (mountpoint / "log").read_bytes()
        counts, problems = parse(data)
        assert problems == [], f"on {mountpoint}: {problems[0]}; whole records before it: {counts}"
        assert counts == {i: records for i in range(len(mountpoints))}
        assert len(data) == written
    return written


def main() -> int:
    path, writer, records, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    sizes = random.Random(seed).choices(range(MINIMUM, MAXIMUM + 1), k=records)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    total = 0
    try:
        for sequence, size in enumerate(sizes):
            data = record(writer, sequence, size)
            written = os.write(fd, data)
            if written != len(data):
                print(f"short write: {written} of {len(data)}", file=sys.stderr)
                return 1
            total += written
    finally:
        os.close(fd)
    print(total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
