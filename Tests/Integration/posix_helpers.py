"""Helpers for the real-mount tests: system calls Python's `os` lacks (renameat2, fallocate,
getxattr with a caller-sized buffer), running a function in a forked child (as another user, or
several at once), and asserting errno values.

Nothing here starts a process that can outlive the test: every forked child is waited for by
the function that forked it, and a child that is stuck in a FUSE call is released by the
watchdog (it unmounts, so the call fails with ENOTCONN) before it is reaped.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import pickle
import platform
import signal
import traceback

import pytest

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

# <linux/falloc.h>
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10

# <linux/fs.h>
RENAME_NOREPLACE = 1 << 0
RENAME_EXCHANGE = 1 << 1

AT_FDCWD = -100

_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}

libc.syscall.restype = ctypes.c_long
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
libc.fallocate.restype = ctypes.c_int
libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.getxattr.restype = ctypes.c_ssize_t
libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.listxattr.restype = ctypes.c_ssize_t


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def renameat2(old: os.PathLike | str, new: os.PathLike | str, flags: int) -> None:
    """rename(2) with flags, by the raw system call (syscall 316 on x86_64)."""
    number = _RENAMEAT2.get(platform.machine())
    if number is None:
        pytest.skip(f"renameat2 syscall number unknown on {platform.machine()}")
    _check(libc.syscall(ctypes.c_long(number), ctypes.c_int(AT_FDCWD), os.fsencode(old),
                        ctypes.c_int(AT_FDCWD), os.fsencode(new), ctypes.c_uint(flags)),
           f"renameat2({old}, {new}, {flags:#x})")


def fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    _check(libc.fallocate(fd, mode, offset, length), f"fallocate(mode={mode:#x}, {offset}, {length})")


def getxattr_sized(path: os.PathLike | str, name: str, size: int) -> bytes | int:
    """getxattr(2) with a buffer of exactly `size` bytes: size 0 returns the value's length."""
    if size == 0:
        return _check(libc.getxattr(os.fsencode(path), name.encode(), None, 0), "getxattr")
    buffer = ctypes.create_string_buffer(size)
    count = _check(libc.getxattr(os.fsencode(path), name.encode(), buffer, size), "getxattr")
    return buffer.raw[:count]


def listxattr_size(path: os.PathLike | str) -> int:
    return _check(libc.listxattr(os.fsencode(path), None, 0), "listxattr")


def expect_errno(code: int, function, *args, **kwargs) -> OSError:
    """Calls `function(*args, **kwargs)` and asserts it fails with `code`."""
    with pytest.raises(OSError) as failure:
        function(*args, **kwargs)
    assert failure.value.errno == code, (
        f"{getattr(function, '__name__', function)}{args}: expected {errno.errorcode[code]}, got "
        f"{errno.errorcode.get(failure.value.errno, failure.value.errno)} ({failure.value})")
    return failure.value


# Forked children --------------------------------------------------------------------------------


class ChildFailed(AssertionError):
    """A function run in a child raised; carries the child's traceback."""


def _child_main(write_fd: int, function, args, identity) -> None:
    """In the child: optionally drop to `identity` = (uid, gid, groups), run, report, _exit."""
    status = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if identity is not None:
            uid, gid, groups = identity
            os.setgroups(list(groups))
            os.setgid(gid)
            os.setuid(uid)
        try:
            outcome = ("ok", function(*args))
        except OSError as e:
            outcome = ("oserror", e.errno, str(e), traceback.format_exc())
        except BaseException as e:  # noqa: BLE001 - reported to the parent, whatever it is
            outcome = ("error", repr(e), traceback.format_exc())
        try:
            data = pickle.dumps(outcome)
        except Exception as e:  # noqa: BLE001
            data = pickle.dumps(("error", f"unpicklable result: {e!r}", ""))
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view):]
    except BaseException:  # noqa: BLE001
        status = 1
    finally:
        os._exit(status)


def _fork(function, args, identity) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child_main(write_fd, function, args, identity)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid: int, read_fd: int):
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        raise ChildFailed(f"child {pid} died without a result (wait status {status:#x})")
    outcome = pickle.loads(b"".join(chunks))
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "oserror":
        error = OSError(outcome[1], outcome[2])
        error.child_traceback = outcome[3]
        raise error
    raise ChildFailed(f"child {pid} raised {outcome[1]}\n{outcome[2]}")


def run_as(uid: int, gid: int, function, *args, groups=()):
    """Runs `function(*args)` in a forked child that has dropped to uid/gid (and exactly
    `groups` as supplementary groups); returns its (picklable) result or re-raises its OSError
    (with the same errno) or a ChildFailed with its traceback. The child inherits the current
    directory: chdir into the mount first if the path to it is not searchable by `uid`."""
    pid, read_fd = _fork(function, args, (uid, gid, groups))
    return _collect(pid, read_fd)


def run_parallel(function, argument_lists):
    """Runs `function(*args)` for every args in `argument_lists`, each in its own forked child,
    all at once; returns the results in order. The first failure is raised after every child
    has been reaped."""
    children = [_fork(function, tuple(args), None) for args in argument_lists]
    results, first_error = [], None
    for pid, read_fd in children:
        try:
            results.append(_collect(pid, read_fd))
        except (OSError, ChildFailed) as e:
            results.append(None)
            first_error = first_error or e
    if first_error is not None:
        raise first_error
    return results


@contextlib.contextmanager
def working_directory(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


# Data ------------------------------------------------------------------------------------------


def pattern(seed: int, length: int, offset: int = 0) -> bytes:
    """Deterministic bytes that differ at every offset and for every seed (not a short period,
    so a misplaced block is caught)."""
    import random

    return random.Random(f"{seed}:{offset}").randbytes(length)


def first_difference(a: bytes, b: bytes) -> int | None:
    """The first offset where `a` and `b` differ (a length difference counts), or None."""
    if a == b:
        return None
    n = min(len(a), len(b))
    low, high = 0, n
    # Binary search on prefix equality: fast even for hundreds of MiB.
    while low < high:
        middle = (low + high) // 2
        if a[low:middle + 1] == b[low:middle + 1]:
            low = middle + 1
        else:
            high = middle
    return low


def describe_difference(what: str, got: bytes, want: bytes) -> str:
    at = first_difference(got, want)
    if at is None:
        return f"{what}: equal"
    return (f"{what}: {len(got)} bytes, expected {len(want)}; first difference at offset {at}: "
            f"got {got[at:at + 16].hex()} expected {want[at:at + 16].hex()}")


def assert_bytes_equal(what: str, got: bytes, want: bytes) -> None:
    if got != want:
        raise AssertionError(describe_difference(what, got, want))


def read_all(path, *, chunk: int = 1 << 20) -> bytes:
    with open(path, "rb", buffering=0) as f:
        parts = []
        while part := f.read(chunk):
            parts.append(part)
        return b"".join(parts)


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """One pwrite of all of `data`: a short write to a regular file is itself a failure."""
    written = os.pwrite(fd, data, offset)
    assert written == len(data), f"pwrite of {len(data)} bytes at {offset} wrote {written}"
