"""Plumbing for the integration suite: sd_notify listeners, free ports, a per-test registry of
processes and mounts, and handles for a running server and a running mount.

The fixtures in conftest.py are the interface tests use; this module holds the machinery so it
can be read (and imported by tests, e.g. `from harness import free_port`) on its own.
"""

from __future__ import annotations

import faulthandler
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: How long a server or a mount gets to send READY=1 and show up.
READY_TIMEOUT = 10.0
#: How long a process gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
#: Per-test watchdog default, overridden by `@pytest.mark.timeout_seconds(N)`.
DEFAULT_TEST_TIMEOUT = 120.0
#: After the watchdog has unmounted and killed, how long the test gets to notice before the
#: watchdog interrupts the main thread itself.
WATCHDOG_GRACE = float(os.environ.get("POHMELFS_WATCHDOG_GRACE", "15"))

_counter = itertools.count()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


DAMON_KDAMONDS = Path("/sys/kernel/mm/damon/admin/kdamonds")


class ProactiveReclaimPaused:
    """Context manager: turns off the kernel's DAMON monitors (`kdamonds/*/state`) that are on,
    and turns them back on afterwards. Some VMs run a DAMON "pageout" scheme that evicts page
    cache pages idle for about a second, up to 128 MiB a second: a test that counts the reads a
    cached re-read sends would count the VM's reclaim, not pohmelfs's cache (seen here: ~10 MiB
    of a 512 MiB file evicted between two reads in 1 run of 8). Nothing to do where DAMON is off
    or absent."""

    def __init__(self) -> None:
        self.paused: list[Path] = []

    def __enter__(self) -> "ProactiveReclaimPaused":
        for state in sorted(DAMON_KDAMONDS.glob("*/state")):
            try:
                if state.read_text().strip() == "on":
                    state.write_text("off")
                    self.paused.append(state)
            except OSError:
                pass
        return self

    def __exit__(self, *exc) -> None:
        for state in self.paused:
            try:
                state.write_text("on")
            except OSError:
                pass


def mounted_paths() -> set[str]:
    """Mountpoints from /proc/self/mountinfo, read without touching any filesystem (a stat on a
    hung FUSE mount would block)."""
    paths = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # Field 5 is the mountpoint, with space, tab, newline and backslash octal-escaped.
            point = line.split()[4]
            paths.add(_OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), point))
    return paths


def is_mounted(path: os.PathLike | str) -> bool:
    return os.path.abspath(path) in mounted_paths()


def lazy_unmount(path: os.PathLike | str) -> None:
    """`fusermount3 -u -z PATH`, ignoring every error (not mounted, already gone)."""
    try:
        subprocess.run(
            ["fusermount3", "-u", "-z", str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        pass


def abort_fuse_connection(device: int | None) -> None:
    """Aborts a FUSE connection through fusectl when it is mounted (it is not everywhere); the
    kernel then fails every request in flight with ENOTCONN even if the daemon is stuck."""
    if device is None:
        return
    try:
        with open(f"/sys/fs/fuse/connections/{os.minor(device)}/abort", "w") as f:
            f.write("1")
    except OSError:
        pass


class NotifyListener:
    """An sd_notify receiver: a bound AF_UNIX datagram socket in the abstract namespace (so no
    path length limit and nothing to clean up) plus a thread collecting every message, so a
    sender never blocks on a full queue. Pass `env` to the child process."""

    def __init__(self) -> None:
        self.name = f"pohmelfs-test-{os.getpid()}-{next(_counter)}-{os.urandom(4).hex()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind("\0" + self.name)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"notify-{self.name}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """The NOTIFY_SOCKET value (`@` means the abstract namespace to libsystemd)."""
        return "@" + self.name

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["NOTIFY_SOCKET"] = self.address
        return env

    def _run(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append(data.decode(errors="replace"))
                self._cond.notify_all()

    def assignments(self) -> list[str]:
        """Every `KEY=VALUE` line received so far, in order."""
        with self._cond:
            return [line for message in self.messages for line in message.split("\n") if line]

    def wait_for(self, line: str, timeout: float = READY_TIMEOUT, proc: subprocess.Popen | None = None) -> bool:
        """Waits until a message contains exactly `line` (e.g. "READY=1"). Returns False on
        timeout, or as soon as `proc` has exited without sending it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if any(line == l for m in self.messages for l in m.split("\n")):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (proc is not None and proc.poll() is not None):
                    # One last look: the message may have raced the exit.
                    return any(line == l for m in self.messages for l in m.split("\n"))
                self._cond.wait(min(remaining, 0.05))

    def status_numbers(self, *patterns: str) -> tuple[int, ...]:
        """The numbers `patterns` (regular expressions with one group each, e.g. r"(\\d+) reads,")
        find in the latest STATUS= line that has all of them."""
        for line in reversed(self.assignments()):
            found = [re.search(pattern, line) for pattern in patterns]
            if line.startswith("STATUS=") and all(found):
                return tuple(int(match.group(1)) for match in found)
        raise AssertionError(f"no STATUS= line with {patterns}")

    def settled_status_numbers(self, *patterns: str) -> tuple[int, ...]:
        """`status_numbers` once two STATUS= updates a quarter of a second apart agree."""
        previous = None
        for _ in range(50):
            time.sleep(0.25)
            current = self.status_numbers(*patterns)
            if current == previous:
                return current
            previous = current
        raise AssertionError(f"the STATUS= figures {patterns} never settled")

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        self._thread.join(timeout=2)


class WatchdogTimeout(Exception):
    """Raised in the test's thread when the watchdog had to interrupt it."""


@dataclass
class Registry:
    """Everything one test started, so the watchdog can stop it and teardown can prove nothing
    outlived the test. Processes run in their own session (process group)."""

    name: str
    timeout: float
    tmp: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    mounts: list["MountHandle"] = field(default_factory=list)
    logs: list[tuple[str, Path]] = field(default_factory=list)
    fired: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def spawn(self, args: list, *, log: Path | None = None, label: str | None = None,
              env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
        """subprocess.Popen, registered. With `log`, stdout and stderr go to that file, which is
        attached (under `label`) to the report if the test fails. stdin is /dev/null unless given."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        if log is not None:
            handle = open(log, "ab")
            kwargs["stdout"] = handle
            kwargs["stderr"] = subprocess.STDOUT
            self.logs.append((label or " ".join(str(a) for a in args[:2]), log))
        try:
            proc = subprocess.Popen([str(a) for a in args], env=env, start_new_session=True, **kwargs)
        finally:
            if log is not None:
                handle.close()
        self.processes.append(proc)
        return proc

    def run(self, args: list, *, timeout: float = 30, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Runs a command to completion (registered, killed on timeout), capturing text output."""
        proc = self.spawn(args, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise AssertionError(f"{args} did not finish within {timeout} s; stderr: {err!r}") from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    # The watchdog -----------------------------------------------------------------------------

    def start_watchdog(self) -> None:
        self._main = threading.main_thread() is threading.current_thread()
        if self._main:
            self._previous = signal.signal(signal.SIGUSR1, self._interrupt)
        self._timer = threading.Timer(self.timeout, self._fire)
        self._timer.daemon = True
        self._timer.name = f"watchdog-{self.name}"
        self._timer.start()

    def _interrupt(self, signum, frame):
        raise WatchdogTimeout(f"{self.name}: still running {WATCHDOG_GRACE:.0f} s after the watchdog fired")

    def _fire(self) -> None:
        """Stage 1: unmount every mount lazily (and abort its FUSE connection where fusectl is
        mounted), then SIGKILL every process: a FUSE call stuck on a dead or hung client returns
        ENOTCONN and the test fails on its own. Stage 2, if the test is still running after the
        grace period: dump every thread's stack and raise WatchdogTimeout in the test's thread."""
        self.fired.set()
        print(f"\n*** watchdog: {self.name} exceeded {self.timeout:g} s; unmounting and killing", file=sys.stderr)
        for mount in list(self.mounts):
            lazy_unmount(mount.mountpoint)
            abort_fuse_connection(mount.device)
        for proc in list(self.processes):
            kill_group(proc)
        if self.finished.wait(WATCHDOG_GRACE):
            return
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        if self._main:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

    def stop_watchdog(self) -> None:
        self.finished.set()
        self._timer.cancel()
        if self._main:
            signal.signal(signal.SIGUSR1, self._previous)

    # Teardown checks -------------------------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Stops whatever is still running or mounted and describes it: a non-empty answer means
        the test (or a fixture) leaked something."""
        problems = []
        for mount in self.mounts:
            if is_mounted(mount.mountpoint):
                problems.append(f"{mount.mountpoint} is still mounted")
                lazy_unmount(mount.mountpoint)
        for proc in self.processes:
            if proc.poll() is None:
                problems.append(f"process {proc.pid} ({' '.join(map(str, proc.args))}) outlived the test")
                kill_group(proc)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        # A daemonized child (a mount without -f) is nobody's child: find it by the test's
        # temporary directory on its command line.
        for pid, cmdline in processes_mentioning(str(self.tmp)):
            problems.append(f"process {pid} ({cmdline}) outlived the test")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return problems


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a registered process and its process group (it leads its own session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM, wait up to `timeout`, then SIGKILL (the whole group). Returns the exit status
    after SIGTERM, or None if it had to be killed."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.wait()
        return None


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and text in cmdline:
            found.append((int(entry), cmdline))
    return found


def read_log(path: Path, limit: int = 20000) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"(no log: {e})"
    text = data[-limit:].decode(errors="replace")
    return text if len(data) <= limit else f"(last {limit} bytes)\n{text}"


@dataclass
class ServerHandle:
    """A running `pohmelfs serve`, as the `server` fixture yields it."""

    address: str  # "127.0.0.1:PORT", what a client is given
    host: str
    port: int
    export: Path
    state_dir: Path
    proc: subprocess.Popen
    log: Path
    notify: NotifyListener
    crashed: bool = False  # killed on purpose by the test (`crash()`): teardown expects no clean exit
    # With --store cephfs: the export's path inside the CephFS (`export` is then a mount showing it).
    cephfs_export: str | None = None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); returns the exit status, None if killed."""
        status = stop_process(self.proc, timeout)
        return status

    def crash(self) -> None:
        """SIGKILL the server, as a crash would, and reap it."""
        self.crashed = True
        kill_group(self.proc)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def log_text(self) -> str:
        return read_log(self.log)


@dataclass
class MountHandle:
    """A running `pohmelfs mount`, as `mount_factory(...)` returns it."""

    mountpoint: Path
    source: str  # what was passed: "127.0.0.1:PORT[:/SUBDIR]"
    server: ServerHandle
    proc: subprocess.Popen
    log: Path
    notify: NotifyListener
    device: int | None = None  # st_dev of the mount, for fusectl abort
    unmounted: bool = False
    status: int | None = None  # the client's exit status once unmounted

    def unmount(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """The teardown sequence, callable early: `fusermount3 -u -z`, SIGTERM the client, wait,
        SIGKILL; then asserts the mountpoint is gone from /proc/mounts. Idempotent. Returns the
        client's exit status (None if it had to be killed)."""
        if not self.unmounted:
            self.unmounted = True
            lazy_unmount(self.mountpoint)
            self.status = stop_process(self.proc, timeout)
            self.notify.close()
        assert not is_mounted(self.mountpoint), f"{self.mountpoint} is still mounted after unmount"
        return self.status

    def log_text(self) -> str:
        return read_log(self.log)


def wait_until(condition, timeout: float, step: float = 0.01) -> bool:
    """Polls `condition` every `step` seconds until it holds or `timeout` passes; the last
    answer is returned, so a condition that comes true at the deadline still counts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
