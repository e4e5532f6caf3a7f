"""Random payload files and their checksums, for the tests that copy data through a mount and
compare it at every step."""

import hashlib
import os

CHUNK = 4 << 20


def sha256_of(path) -> str:
    """The hex SHA-256 of a file, read unbuffered in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_random_file(path, size: int) -> str:
    """Writes `size` random bytes to `path`; returns their hex SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb", buffering=0) as f:
        for _ in range(size // CHUNK):
            chunk = os.urandom(CHUNK)
            digest.update(chunk)
            f.write(chunk)
        tail = os.urandom(size % CHUNK)
        digest.update(tail)
        f.write(tail)
    return digest.hexdigest()
