"""`pohmelfs serve` and systemd: READY=1 only once listening, STATUS= lines, STOPPING=1 and a
prompt, clean exit on SIGTERM/SIGINT, with or without clients connected."""

import os
import shutil
import signal
import socket
import tempfile
import time

import pytest

from harness import NotifyListener


class PathNotifySocket:
    """A datagram socket bound at a filesystem path, the way systemd itself does it (the
    fixtures use the abstract namespace; this proves the path form too). Kept under /tmp so the
    path stays below the 108-byte sun_path limit whatever tmp_path is."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pfs-notify-", dir="/tmp")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.lines = []

    def read_until(self, wanted, timeout):
        deadline = time.monotonic() + timeout
        while wanted not in self.lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {wanted} within {timeout} s; received {self.lines}")
            self.sock.settimeout(remaining)
            try:
                self.lines += self.sock.recv(65536).decode().split("\n")
            except socket.timeout:
                pass
        return self.lines

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify_socket():
    sock = PathNotifySocket()
    yield sock
    sock.close()


def serve(registry, pohmelfs_bin, tmp_path, port, env):
    export = tmp_path / "export"
    export.mkdir(exist_ok=True)
    return registry.spawn(
        [pohmelfs_bin, "serve", "--export", export, "--listen", f"127.0.0.1:{port}", "--state-dir", tmp_path / "state"],
        log=tmp_path / "serve.log", env=env)


def test_ready_status_then_stopping_on_sigterm(registry, pohmelfs_bin, tmp_path, free_port, notify_socket):
    port = free_port()
    proc = serve(registry, pohmelfs_bin, tmp_path, port, dict(os.environ, NOTIFY_SOCKET=notify_socket.path))

    lines = notify_socket.read_until("READY=1", timeout=10)
    # READY=1 means listening: a connection must succeed at once.
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    assert any(line.startswith("STATUS=") and len(line) > len("STATUS=") for line in lines), lines
    assert "STOPPING=1" not in lines

    proc.send_signal(signal.SIGTERM)
    notify_socket.read_until("STOPPING=1", timeout=10)
    assert proc.wait(timeout=10) == 0
    log = (tmp_path / "serve.log").read_text()
    assert "listening" in log


def test_sigint_stops_like_sigterm(server):
    server.proc.send_signal(signal.SIGINT)
    assert server.notify.wait_for("STOPPING=1", 10)
    assert server.proc.wait(timeout=10) == 0


def test_ready_comes_once_and_stopping_after_it(server):
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=10) == 0
    assert server.notify.wait_for("STOPPING=1", 2)
    lines = server.notify.assignments()
    assert lines.count("READY=1") == 1
    assert lines.index("READY=1") < lines.index("STOPPING=1")


def test_shutdown_is_prompt_with_an_idle_client_connected(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        time.sleep(0.2)  # let the server accept it
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        # The server closed its side: the client sees end of file or a reset, not silence.
        client.settimeout(5)
        try:
            assert client.recv(1) == b""
        except ConnectionResetError:
            pass


def test_shutdown_is_prompt_with_a_half_sent_frame(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"\x50\x4f")  # two bytes of a header, then nothing
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0


def test_shutdown_is_prompt_with_many_clients_connected(server):
    clients = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(16)]
    try:
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0
    finally:
        for client in clients:
            client.close()


def stops_cleanly_once_listening(proc, port: int, tmp_path) -> None:
    """Waits (10 s at most) until the server accepts connections, then SIGTERMs it: exit 0."""
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "not listening after 10 s"
            time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_serve_runs_without_notify_socket(registry, pohmelfs_bin, tmp_path, free_port):
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    port = free_port()
    proc = serve(registry, pohmelfs_bin, tmp_path, port, env)
    stops_cleanly_once_listening(proc, port, tmp_path)


def test_serve_survives_a_notify_socket_nobody_listens_on(registry, pohmelfs_bin, tmp_path, free_port):
    """sd_notify failing (no such socket) must not stop the server."""
    listener = NotifyListener()
    address = listener.address
    listener.close()  # the name is free again: datagrams to it are refused
    port = free_port()
    proc = serve(registry, pohmelfs_bin, tmp_path, port, dict(os.environ, NOTIFY_SOCKET=address))
    stops_cleanly_once_listening(proc, port, tmp_path)
