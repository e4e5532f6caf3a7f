#!/usr/bin/env python3
"""A stand-in for `pohmelfs mount`, used only by the harness self-tests (test_harness.py).

It speaks just enough of the FUSE kernel protocol over /dev/fuse to mount an empty, read-only
directory, so the `mount_factory` fixture and the per-test watchdog can be proven on a real FUSE
mount before the real client exists. It behaves the way the real client promises to:

    fake_mount.py SOURCE MOUNTPOINT -f [-o OPTIONS]

- mounts with mount(2) (fstype `fuse.pohmelfs-fake`), answers FUSE_INIT, then sends READY=1 to
  NOTIFY_SOCKET;
- on SIGTERM or SIGINT detaches the mount (umount2 MNT_DETACH) and exits 0;
- exits when the kernel ends the connection (fusermount3 -u).

Faults for the self-tests: a LOOKUP of any name starting with `hang` is never answered (a hung
FUSE call); `-o fake_no_ready` mounts but never sends READY=1; `-o fake_fail` exits 3 at once
with a one-line error. Needs root and /dev/fuse.
"""

import ctypes
import errno
import os
import signal
import socket
import stat
import struct
import sys

# Opcodes from <linux/fuse.h>.
LOOKUP, FORGET, GETATTR = 1, 2, 3
STATFS, INIT, OPENDIR, READDIR, RELEASEDIR = 17, 26, 27, 28, 29
ACCESS, INTERRUPT, DESTROY, BATCH_FORGET = 34, 36, 38, 42
NO_REPLY = {FORGET, BATCH_FORGET, INTERRUPT}

IN_HEADER = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid gid pid total_extlen padding
OUT_HEADER = struct.Struct("<IiQ")  # len error unique
ROOT = 1

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2


def fail(message):
    print(f"pohmelfs mount: {message}", file=sys.stderr, flush=True)
    sys.exit(3)


def root_attr():
    # struct fuse_attr: ino size blocks atime mtime ctime, 3 nsec, mode nlink uid gid rdev blksize flags
    return struct.pack("<QQQQQQIIIIIIIIII", ROOT, 0, 0, 0, 0, 0, 0, 0, 0, stat.S_IFDIR | 0o755, 2, 0, 0, 0, 4096, 0)


def notify(text):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(text.encode(), path)


def main(argv):
    options = []
    positional = []
    args = iter(argv[1:])
    for arg in args:
        if arg == "-o":
            options += next(args).split(",")
        elif arg != "-f":
            positional.append(arg)
    if len(positional) != 2:
        fail("usage: fake_mount.py SOURCE MOUNTPOINT -f [-o OPTIONS]")
    source, mountpoint = positional
    if "fake_fail" in options:
        fail(f"cannot reach {source} (fake failure)")

    fd = os.open("/dev/fuse", os.O_RDWR)
    data = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(source.encode(), mountpoint.encode(), b"fuse.pohmelfs-fake", MS_NOSUID | MS_NODEV, data) != 0:
        fail(f"mount {mountpoint}: {os.strerror(ctypes.get_errno())}")

    def stop(signum, frame):
        libc.umount2(mountpoint.encode(), MNT_DETACH)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def reply(unique, error=0, payload=b""):
        try:
            os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(payload), -error, unique) + payload)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENODEV):  # request interrupted; unmounted
                raise

    while True:
        try:
            request = os.read(fd, 1 << 20 | 4096)
        except OSError as e:
            if e.errno == errno.ENODEV:  # unmounted
                os._exit(0)  # not sys.exit: a SIGTERM during interpreter shutdown would kill us
            if e.errno in (errno.EINTR, errno.ENOENT):  # ENOENT: an interrupted request vanished
                continue
            raise
        _, opcode, unique, nodeid, *_ = IN_HEADER.unpack_from(request)
        body = request[IN_HEADER.size:]
        if opcode in NO_REPLY:
            continue
        if opcode == INIT:
            major, minor, readahead, flags = struct.unpack_from("<IIII", body)
            # fuse_init_out: major minor max_readahead flags max_background congestion max_write
            # time_gran max_pages map_alignment flags2 unused[7]
            reply(unique, 0, struct.pack("<IIIIHHIIHHI7I", 7, 31, readahead, 0, 16, 12, 65536, 1, 0, 0, 0, *[0] * 7))
            if "fake_no_ready" not in options:
                notify("READY=1\nSTATUS=fake mount ready")
        elif opcode == GETATTR and nodeid == ROOT:
            reply(unique, 0, struct.pack("<QII", 1, 0, 0) + root_attr())
        elif opcode == LOOKUP:
            if body.split(b"\0", 1)[0].startswith(b"hang"):
                continue  # never answered: the hung FUSE call the watchdog exists for
            reply(unique, errno.ENOENT)
        elif opcode == OPENDIR:
            reply(unique, 0, struct.pack("<QII", 1, 0, 0))
        elif opcode in (READDIR, RELEASEDIR, ACCESS):
            reply(unique)
        elif opcode == STATFS:
            reply(unique, 0, struct.pack("<QQQQQIIII6I", 0, 0, 0, 0, 0, 4096, 255, 4096, 0, *[0] * 6))
        elif opcode == DESTROY:
            reply(unique)
            os._exit(0)
        else:
            reply(unique, errno.ENOSYS)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
