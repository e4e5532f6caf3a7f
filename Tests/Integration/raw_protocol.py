"""A bare pohmelfs protocol client for tests that misbehave on purpose (hostile or dying clients).

It speaks just enough of the wire format (Sources/Core/Documentation.docc/WireFormat.md) to say
HELLO, create or open a file, take a lock, and then end the connection the way a test needs:
a TCP reset (SO_LINGER 0), a garbage frame, or silence. Nothing here is used by the real client.
"""

import os
import socket
import struct

MAGIC = 0x53464850
VERSION = 1
HEADER = struct.Struct("<IBBHQII")  # magic version flags opcode transaction status payloadLength

HELLO, LOOKUP, UNLINK, OPEN, RELEASE, CREATE, SETLK, LOCK_TABLE = 1, 2, 9, 13, 17, 28, 32, 34
O_RDWR = 2
F_WRLCK_WIRE = 1  # FileLockType.write


class ProtocolError(Exception):
    def __init__(self, errno_value: int, opcode: int):
        super().__init__(f"opcode {opcode} failed: {os.strerror(errno_value)}")
        self.errno = errno_value


def caller(uid: int = 0, gid: int = 0, pid: int = 0, groups=()) -> bytes:
    return struct.pack("<IIIH", uid, gid, pid, len(groups)) + b"".join(struct.pack("<I", g) for g in groups)


def wire_bytes(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


class RawClient:
    """One connection to a server. `uid`/`gid` are the credentials every request claims."""

    def __init__(self, port: int, host: str = "127.0.0.1", uid: int = 0, gid: int = 0, timeout: float = 10,
                 source_port: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source_port is not None:
            self.sock.bind(("127.0.0.1", source_port))
        self.sock.connect((host, port))
        self.uid, self.gid = uid, gid
        self.transaction = 0
        self.root = b""
        self.session = 0

    def _read_exact(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        return data

    def request(self, opcode: int, body: bytes) -> bytes:
        """Sends one request and returns its reply's payload; a failed reply raises ProtocolError.
        Notices that arrive first are skipped."""
        self.transaction += 1
        payload = caller(self.uid, self.gid) + body
        self.sock.sendall(HEADER.pack(MAGIC, VERSION, 0, opcode, self.transaction, 0, len(payload)) + payload)
        while True:
            magic, _, flags, got_opcode, transaction, status, length = HEADER.unpack(self._read_exact(HEADER.size))
            reply = self._read_exact(length)
            if flags & 2 or transaction != self.transaction:
                continue
            if status:
                raise ProtocolError(status, opcode)
            return reply

    def hello(self, name: str = "raw-client", resume_session: int = 0, extra: bytes = b"") -> bytes:
        body = struct.pack("<HHQI", 1, 1, 0, 1 << 20) + wire_bytes(name.encode()) + struct.pack("<Q", resume_session)
        reply = self.request(HELLO, body + extra)
        _, _, _, self.session = struct.unpack_from("<HQIQ", reply, 0)
        offset = struct.calcsize("<HQIQ")
        (length,) = struct.unpack_from("<I", reply, offset)
        self.root = reply[offset + 4: offset + 4 + length]
        return reply

    def create(self, name: str, mode: int = 0o644, parent: bytes | None = None, caching: bool = False,
               ) -> tuple[bytes, int]:
        """Creates and opens `name` O_RDWR; returns (object handle, open file id)."""
        body = wire_bytes(parent or self.root) + wire_bytes(name.encode()) + struct.pack(
            "<IIB", mode, O_RDWR, int(caching))
        reply = self.request(CREATE, body)
        (length,) = struct.unpack_from("<I", reply, 0)
        handle = reply[4: 4 + length]
        (file_id,) = struct.unpack_from("<Q", reply, len(reply) - 8)
        return handle, file_id

    def lookup(self, name: str, parent: bytes | None = None) -> bytes:
        """The handle of `name`."""
        reply = self.request(LOOKUP, wire_bytes(parent or self.root) + wire_bytes(name.encode()))
        (length,) = struct.unpack_from("<I", reply, 0)
        return reply[4: 4 + length]

    def open(self, handle: bytes, flags: int = 0) -> int:
        """Opens the file `handle` names; returns the open file id."""
        reply = self.request(OPEN, wire_bytes(handle) + struct.pack("<IB", flags, 0))
        (file_id,) = struct.unpack_from("<Q", reply, 0)
        return file_id

    def release(self, file_id: int) -> None:
        self.request(RELEASE, struct.pack("<QB", file_id, 0))

    def unlink(self, name: str, parent: bytes | None = None) -> None:
        self.request(UNLINK, wire_bytes(parent or self.root) + wire_bytes(name.encode()))

    def lock(self, file_id: int, owner: int = 1, start: int = 0, end: int = (1 << 64) - 1) -> None:
        """A non-blocking POSIX write lock (fcntl F_SETLK, F_WRLCK)."""
        self.request(SETLK, struct.pack("<QQBBQQIB", file_id, owner, 0, F_WRLCK_WIRE, start, end, os.getpid(), 0))

    def send_garbage(self) -> None:
        """A frame with a bad magic: a protocol violation."""
        self.sock.sendall(b"\xa5" * 64)

    def reset(self) -> None:
        """Ends the connection with a TCP reset, as the kernel does for a killed process that left
        unread data behind."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()
