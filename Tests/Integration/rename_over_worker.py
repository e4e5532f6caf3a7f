"""Workers for test_rename_over.py: the atomic-replace pattern across mounts.

    rename_over_worker.py writer DIR SECONDS     write DIR/.tmp-N, rename it over DIR/target, repeat
    rename_over_worker.py reader DIR OPENS       open+read DIR/target OPENS times

Each version of `target` is self-checking: "version N\\n", then filler, then the CRC32 of all
before it as 8 hex digits. The writer prints how many versions it wrote; a reader prints one
JSON object: opens, estale (open or read failed with ESTALE), other errors, bad (a read that
was not one whole version).
"""

import errno
import json
import os
import sys
import time
import zlib


def version(n: int) -> bytes:
    body = f"version {n}\n".encode() + bytes([65 + n % 26]) * (1000 + n % 3000)
    return body + f"{zlib.crc32(body):08x}".encode()


def whole(data: bytes) -> bool:
    return len(data) > 8 and f"{zlib.crc32(data[:-8]):08x}".encode() == data[-8:]


def writer(directory: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        temporary = os.path.join(directory, f".tmp-{n}")
        with open(temporary, "wb") as f:
            f.write(version(n))
        os.rename(temporary, os.path.join(directory, "target"))
    print(n)
    return 0


def reader(directory: str, opens: int) -> int:
    counts = {"opens": 0, "estale": 0, "errors": 0, "bad": 0, "first_error": ""}
    path = os.path.join(directory, "target")
    for _ in range(opens):
        counts["opens"] += 1
        stage = "open"
        try:
            with open(path, "rb") as f:
                stage = "read"
                data = f.read()
        except OSError as error:
            if error.errno == errno.ESTALE:
                counts["estale"] += 1
            else:
                counts["errors"] += 1
            counts["first_error"] = counts["first_error"] or f"{stage}: {error!r}"
            continue
        if not whole(data):
            counts["bad"] += 1
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    role, directory, amount = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.exit(writer(directory, float(amount)) if role == "writer" else reader(directory, int(amount)))
