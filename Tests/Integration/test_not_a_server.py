"""A peer that is not a pohmelfs server: `mount` and `locks` fail within seconds with one line
naming the address and what was found, exit 1, and leave nothing running (issue 18, item 1).

Three kinds of peer, each served by a thread of this test: one that answers with text at once
(an HTTP error), Python's own `http.server` (which waits for a whole request line, so answers
only once the client gives up sending), and a listener that accepts and never says anything.
The last two cost the client's HELLO deadline (10 s), so they run side by side in one test.
"""

import http.server
import os
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness

HELLO_DEADLINE = 10.0
# The deadline, the one second the client then grants a line-oriented peer, and slack for a busy machine.
SLOW_PEER_LIMIT = HELLO_DEADLINE + 5.0
FAST_LIMIT = 5.0

needs_fuse = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")


class Peer:
    """A listener on 127.0.0.1 run by a thread: `on_accept(connection)` decides what it says."""

    def __init__(self, on_accept):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self.on_accept = on_accept
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            try:
                self.on_accept(connection)
            except OSError:
                pass

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        self.listener.close()
        for connection in self.connections:
            connection.close()
        self.thread.join(timeout=5)


@pytest.fixture
def peers():
    started = []

    def start(on_accept):
        peer = Peer(on_accept)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.close()


@pytest.fixture
def python_http_server():
    """`python3 -m http.server` on a free port, in a thread; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def http_error(connection):
    connection.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>no</html>\n")


def silent(connection):
    pass


def one_line(result, command):
    assert result.returncode == 1, f"exit {result.returncode}; stderr={result.stderr!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"pohmelfs {command}: "), lines[0]
    return lines[0]


def timed(run_pohmelfs, *args, timeout):
    started = time.monotonic()
    result = run_pohmelfs(*map(str, args), timeout=timeout + 5)
    return result, time.monotonic() - started


@needs_fuse
@pytest.mark.parametrize("foreground", [False, True], ids=["background", "foreground"])
def test_mount_of_a_peer_answering_http_says_so_at_once(run_pohmelfs, peers, tmp_path, foreground):
    peer = peers(http_error)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result, elapsed = timed(run_pohmelfs, "mount", f"127.0.0.1:{peer.port}", mountpoint,
                            *(["-f"] if foreground else []), timeout=FAST_LIMIT)
    line = one_line(result, "mount")
    assert f"127.0.0.1:{peer.port} answered, but not as a pohmelfs server" in line, line
    assert "HTTP/1.0 400 Bad Request" in line, line
    assert elapsed < FAST_LIMIT, f"took {elapsed:.1f} s"
    assert not harness.is_mounted(mountpoint)


def test_locks_of_a_peer_answering_http_says_so_at_once(run_pohmelfs, peers):
    peer = peers(http_error)
    result, elapsed = timed(run_pohmelfs, "locks", f"127.0.0.1:{peer.port}", timeout=FAST_LIMIT)
    line = one_line(result, "locks")
    assert f"127.0.0.1:{peer.port} answered, but not as a pohmelfs server" in line, line
    assert elapsed < FAST_LIMIT


@needs_fuse
@pytest.mark.timeout_seconds(60)
def test_silent_peers_and_python_http_server_fail_within_the_hello_deadline(run_pohmelfs, peers, python_http_server,
                                                                           tmp_path):
    quiet = peers(silent)
    mountpoints = [tmp_path / "mnt-http", tmp_path / "mnt-quiet"]
    for mountpoint in mountpoints:
        mountpoint.mkdir()
    runs = {
        "mount http.server": ("mount", f"127.0.0.1:{python_http_server}", mountpoints[0]),
        "mount silent": ("mount", f"127.0.0.1:{quiet.port}", mountpoints[1]),
        "locks silent": ("locks", f"127.0.0.1:{quiet.port}"),
    }
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = {name: pool.submit(timed, run_pohmelfs, *args, timeout=SLOW_PEER_LIMIT)
                   for name, args in runs.items()}
        results = {name: future.result() for name, future in futures.items()}
    for name, (result, elapsed) in results.items():
        assert elapsed < SLOW_PEER_LIMIT, f"{name}: took {elapsed:.1f} s"
        command = name.split()[0]
        line = one_line(result, command)
        if name == "mount http.server":
            assert f"127.0.0.1:{python_http_server} answered, but not as a pohmelfs server" in line, line
        else:
            assert (f"127.0.0.1:{quiet.port} accepted the connection but sent no HELLO reply within 10 s"
                    in line), line
    for mountpoint in mountpoints:
        assert not harness.is_mounted(mountpoint)


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@needs_fuse
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_a_waiting_mount_takes_its_background_child_with_it(registry, pohmelfs_bin, peers, tmp_path, how):
    quiet = peers(silent)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    parent = registry.spawn([pohmelfs_bin, "mount", f"127.0.0.1:{quiet.port}", mountpoint],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + FAST_LIMIT
    children = []
    while time.monotonic() < deadline and not children:
        children = children_of(parent.pid)
        time.sleep(0.05)
    assert children, "mount started no background process"
    # Waiting for HELLO (the silent peer accepted it): kill the command the user started.
    deadline = time.monotonic() + FAST_LIMIT
    while time.monotonic() < deadline and not quiet.connections:
        time.sleep(0.05)
    os.kill(parent.pid, how)
    parent.wait(timeout=FAST_LIMIT)
    deadline = time.monotonic() + FAST_LIMIT
    while time.monotonic() < deadline and any(alive(child) for child in children):
        time.sleep(0.05)
    survivors = [child for child in children if alive(child)]
    for child in survivors:
        os.kill(child, signal.SIGKILL)
    assert not survivors, f"the background mount {survivors} outlived the killed `pohmelfs mount`"
    assert not harness.is_mounted(mountpoint)
