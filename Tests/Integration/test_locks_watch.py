"""`pohmelfs locks --watch` as a sysadmin watches it (issue 18, item 5): the table fits the
terminal (an 80-column pseudo-terminal here), a header names the server, the counts and the
time, the watch rides out a server restart, and the JSON schema in --help is plain ASCII.
"""

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from lock_agent import agent_factory  # noqa: F401  (a fixture)

needs_fuse = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

LONG = "projects/2026/quarterly-reports/finance/consolidated-balance-sheet-final-v2.ods"


class Watch:
    """A running `pohmelfs locks --watch`, its output read as it comes: through a pseudo-terminal
    of `columns` x 24 (`terminal=True`, as a person runs it), or a pipe."""

    def __init__(self, registry, pohmelfs_bin, server, terminal=False, columns=80):
        stdout = subprocess.PIPE
        self.master = None
        if terminal:
            self.master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
            stdout = slave
        self.proc = registry.spawn([pohmelfs_bin, "locks", server.address, "--watch", "--interval", "0.3"],
                                   stdout=stdout, stderr=subprocess.PIPE)
        if terminal:
            os.close(slave)
        self.out_fd = self.master if terminal else self.proc.stdout.fileno()
        self.out = ""
        self.err = ""

    def read_until(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        streams = {self.out_fd: "out", self.proc.stderr.fileno(): "err"}
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                return predicate(self)
            ready, _, _ = select.select(list(streams), [], [], remaining)
            for fd in ready:
                try:
                    chunk = os.read(fd, 65536).decode()
                except OSError:
                    chunk = ""
                setattr(self, streams[fd], getattr(self, streams[fd]) + chunk)
        return True

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.master is not None:
            os.close(self.master)


@needs_fuse
def test_watch_fits_80_columns_with_a_header(server_factory, mount_factory, agent_factory, registry, pohmelfs_bin):
    server = server_factory()
    mount = mount_factory(server)
    target = mount.mountpoint / LONG
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * 8192)
    holder = agent_factory("A")
    assert holder.fcntl(holder.open(target), "F_SETLK", "write", 0, 4096)["ok"]
    watch = Watch(registry, pohmelfs_bin, server, terminal=True)
    try:
        assert watch.read_until(lambda w: w.out.count("Every ") >= 2, 10), watch.out + watch.err
    finally:
        watch.stop()
    screen = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", watch.out).replace("\r", "")
    print(screen)
    lines = screen.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    header = next(line for line in lines if line.startswith("Every "))
    assert f"pohmelfs locks {server.address}" in header and "1 lock (1 held, 0 waiting)" in header, header
    assert time.strftime("%H:") in header, header
    row = next(line for line in lines if line.startswith("/projects"))
    assert "..." in row and row.split()[0].endswith("-v2.ods"), row  # shortened in the middle
    assert " 0-4095 " in row and " write " in row and f" {holder.pid} " in row, row
    assert all(ord(c) < 128 for c in screen), "non-ASCII in the table"


@needs_fuse
@pytest.mark.timeout_seconds(60)
def test_watch_reconnects_when_the_server_restarts(server_factory, registry, pohmelfs_bin):
    server = server_factory()
    watch = Watch(registry, pohmelfs_bin, server)
    try:
        assert watch.read_until(lambda w: "(no locks)" in w.out, 10), watch.out + watch.err
        server.stop()
        assert watch.read_until(lambda w: "not answering" in w.err, 10), watch.err
        assert watch.proc.poll() is None, f"--watch exited: {watch.err}"
        before = watch.out.count("(no locks)")
        server_factory(export=server.export, state_dir=server.state_dir, port=server.port)
        assert watch.read_until(lambda w: w.out.count("(no locks)") > before + 1, 15), watch.out + watch.err
        assert watch.read_until(lambda w: "answering again" in w.err, 5), watch.err
    finally:
        watch.stop()
    assert "I/O on closed channel" not in watch.err
    lines = [line for line in watch.err.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line.startswith("pohmelfs locks: ") for line in lines), watch.err


def test_help_documents_the_json_schema_in_plain_ascii(run_pohmelfs):
    result = run_pohmelfs("locks", "--help")
    assert result.returncode == 0
    text = result.stdout
    assert all(ord(c) < 128 for c in text), [c for c in text if ord(c) >= 128]
    for field in ('"locks"', '"truncated"', '"path"', '"range"', '"0-4095"', '"blockedBy"', '"ageSeconds"'):
        assert field in text, field


@needs_fuse
def test_json_has_ascii_ranges_and_unescaped_slashes(server_factory, mount_factory, agent_factory, run_pohmelfs):
    server = server_factory()
    mount = mount_factory(server)
    (mount.mountpoint / "dir").mkdir()
    (mount.mountpoint / "dir" / "file").write_bytes(b"y" * 10)
    holder = agent_factory("A")
    assert holder.fcntl(holder.open(mount.mountpoint / "dir" / "file"), "F_SETLK", "read", 0, 0)["ok"]
    result = run_pohmelfs("locks", server.address, "--json")
    assert result.returncode == 0, result.stderr
    assert "\\/" not in result.stdout and "\u2013" not in result.stdout, result.stdout
    lock = next(l for l in json.loads(result.stdout)["locks"] if l["kind"] == "posix")
    assert (lock["path"], lock["range"]) == ("/dir/file", "0-EOF")
