"""For test_interrupts.py: statx(AT_STATX_FORCE_SYNC) on an open file in a loop while a timer
signal fires every 100 microseconds, through ctypes so that EINTR is seen (Python's own os
functions retry it).

    interrupt_worker.py FILE CALLS

Prints one JSON object: calls, eintr, other errors, signals received.
"""

import ctypes
import ctypes.util
import errno
import json
import os
import signal
import sys

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
libc.statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
AT_EMPTY_PATH = 0x1000
AT_STATX_FORCE_SYNC = 0x2000
STATX_BASIC_STATS = 0x7FF


def main() -> int:
    path, calls = sys.argv[1], int(sys.argv[2])
    received = 0

    def handler(signum, frame):
        nonlocal received
        received += 1

    signal.signal(signal.SIGALRM, handler)
    signal.siginterrupt(signal.SIGALRM, True)
    fd = os.open(path, os.O_RDONLY)
    buffer = ctypes.create_string_buffer(256)
    counts = {"calls": 0, "eintr": 0, "errors": 0}
    signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
    try:
        for _ in range(calls):
            counts["calls"] += 1
            if libc.statx(fd, b"", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, buffer) != 0:
                code = ctypes.get_errno()
                counts["eintr" if code == errno.EINTR else "errors"] += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        os.close(fd)
    counts["signals"] = received
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
