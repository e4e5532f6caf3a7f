"""A server speaking a protocol version this client does not: `pohmelfs mount` (and `pohmelfs
locks`) must say so in one line and exit non-zero, quickly, without mounting anything."""

import socket
import struct
import subprocess
import threading

MAGIC = 0x53464850  # "PHFS" little-endian
HEADER = struct.Struct("<IBBHQII")  # magic, version, flags, opcode, transaction, status, length


def future_server(listener: socket.socket, stop: threading.Event) -> None:
    """Accepts connections, reads one frame, answers with a header of protocol version 2."""
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        with conn:
            conn.settimeout(5)
            try:
                head = conn.recv(HEADER.size, socket.MSG_WAITALL)
                _, _, _, opcode, transaction, _, length = HEADER.unpack(head)
                conn.recv(length, socket.MSG_WAITALL)
                # flags 1 = reply; the payload does not matter: the version is refused first.
                conn.sendall(HEADER.pack(MAGIC, 2, 1, opcode, transaction, 0, 0))
                conn.recv(1)
            except (OSError, struct.error):
                pass


def test_a_server_of_another_protocol_version_is_refused_in_one_line(pohmelfs_bin, tmp_path, registry):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    stop = threading.Event()
    thread = threading.Thread(target=future_server, args=(listener, stop), daemon=True)
    thread.start()
    try:
        mountpoint = tmp_path / "mnt"
        mountpoint.mkdir()
        result = registry.run([str(pohmelfs_bin), "mount", f"127.0.0.1:{port}", str(mountpoint)], timeout=20)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "protocol version mismatch" in lines[0]
        assert not any(str(mountpoint) in line for line in open("/proc/self/mountinfo"))

        locks = registry.run([str(pohmelfs_bin), "locks", f"127.0.0.1:{port}"], timeout=20)
        assert locks.returncode != 0
        assert "protocol version mismatch" in locks.stderr
    finally:
        stop.set()
        thread.join(5)
        listener.close()
