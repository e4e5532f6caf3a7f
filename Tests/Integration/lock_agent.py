"""A lock-taking process the tests drive, one per client, and the fixture that starts them.

Run as a program (`lock_agent.py`), it reads one JSON command per line on stdin and answers each
with one JSON line on stdout, so a test can hold a lock in one process, block in another, and
look at both. Lock calls go through ctypes straight to libc, so an interrupted call reports
EINTR as the kernel returned it (Python's own `fcntl.fcntl` would retry after the handler, PEP
475), and every answer carries how long the call took.

Commands (every answer has "ok", plus "errno" (a name) when the call failed, and "elapsed"):

    {"op": "pid"}                                       -> {"pid": N}
    {"op": "open", "path": P[, "flags": "rw"|"r"|"w"]}  -> {"fd": N}
    {"op": "close", "fd": N}
    {"op": "fcntl", "fd": N, "cmd": "F_SETLK"|"F_SETLKW"|"F_OFD_SETLK"|"F_OFD_SETLKW",
     "type": "read"|"write"|"unlock", "start": S, "len": L[, "alarm": SECONDS]}
    {"op": "getlk", "fd": N, "cmd": "F_GETLK"|"F_OFD_GETLK", "type": ..., "start": S, "len": L}
                                                        -> {"type": ..., "start": S, "len": L, "pid": N}
    {"op": "flock", "fd": N, "how": "ex"|"sh"|"un", "nb": bool}
    {"op": "exit"}

With "alarm", SIGALRM is delivered after that many seconds; its handler is installed without
SA_RESTART (`signal.siginterrupt(SIGALRM, True)`), so a blocked F_SETLKW returns EINTR.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
COMMANDS = {"F_GETLK": F_GETLK, "F_SETLK": F_SETLK, "F_SETLKW": F_SETLKW,
            "F_OFD_GETLK": F_OFD_GETLK, "F_OFD_SETLK": F_OFD_SETLK, "F_OFD_SETLKW": F_OFD_SETLKW}
TYPES = {"read": 0, "write": 1, "unlock": 2}  # F_RDLCK, F_WRLCK, F_UNLCK
TYPE_NAMES = {v: k for k, v in TYPES.items()}
LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8

HERE = Path(__file__).resolve().parent


class Flock(ctypes.Structure):
    """struct flock (x86_64 and aarch64 Linux: 32 bytes)."""
    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short), ("l_start", ctypes.c_int64),
                ("l_len", ctypes.c_int64), ("l_pid", ctypes.c_int32)]


# The agent process -----------------------------------------------------------------------------


def _serve() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    signal.signal(signal.SIGALRM, lambda signum, frame: None)
    signal.siginterrupt(signal.SIGALRM, True)
    flags = {"rw": os.O_RDWR, "r": os.O_RDONLY, "w": os.O_WRONLY}

    def failed(result: int) -> dict:
        if result == -1:
            e = ctypes.get_errno()
            return {"ok": False, "errno": errno.errorcode.get(e, str(e))}
        return {"ok": True}

    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        began = time.monotonic()
        try:
            if op == "pid":
                answer = {"ok": True, "pid": os.getpid()}
            elif op == "open":
                answer = {"ok": True, "fd": os.open(command["path"], flags[command.get("flags", "rw")])}
            elif op == "close":
                os.close(command["fd"])
                answer = {"ok": True}
            elif op in ("fcntl", "getlk"):
                lock = Flock(l_type=TYPES[command["type"]], l_whence=os.SEEK_SET, l_start=command["start"],
                             l_len=command["len"], l_pid=0)
                if command.get("alarm"):
                    signal.setitimer(signal.ITIMER_REAL, command["alarm"])
                result = libc.fcntl(command["fd"], COMMANDS[command["cmd"]], ctypes.byref(lock))
                signal.setitimer(signal.ITIMER_REAL, 0)
                answer = failed(result)
                if op == "getlk" and answer["ok"]:
                    answer.update(type=TYPE_NAMES[lock.l_type], start=lock.l_start, len=lock.l_len, pid=lock.l_pid)
            elif op == "flock":
                how = {"ex": LOCK_EX, "sh": LOCK_SH, "un": LOCK_UN}[command["how"]]
                answer = failed(libc.flock(command["fd"], how | (LOCK_NB if command.get("nb") else 0)))
            elif op == "exit":
                print(json.dumps({"ok": True}), flush=True)
                return
            else:
                answer = {"ok": False, "errno": f"unknown op {op}"}
        except OSError as e:
            answer = {"ok": False, "errno": errno.errorcode.get(e.errno, str(e.errno))}
        answer["elapsed"] = time.monotonic() - began
        print(json.dumps(answer), flush=True)


# The test side ---------------------------------------------------------------------------------


class Agent:
    """A running lock_agent.py. `call` sends a command and waits for its answer; `send` and
    `answer` split that for calls that block; `silent_for` proves a call is still blocked."""

    def __init__(self, proc: subprocess.Popen, name: str):
        self.proc = proc
        self.name = name
        self._buffer = b""
        self.pid = self.call({"op": "pid"})["pid"]

    def send(self, command: dict) -> None:
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()

    def answer(self, timeout: float = 10) -> dict:
        line = self._readline(timeout)
        if line is None:
            raise AssertionError(f"agent {self.name} did not answer within {timeout} s")
        return json.loads(line)

    def silent_for(self, seconds: float) -> bool:
        """True if no answer arrives within `seconds` (the pending call is still blocked). An
        answer that does arrive is kept for `answer`."""
        return self._readline(seconds, consume=False) is None and self.proc.poll() is None

    def call(self, command: dict, timeout: float = 10) -> dict:
        self.send(command)
        return self.answer(timeout)

    def _readline(self, timeout: float, consume: bool = True) -> bytes | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"agent {self.name} exited (status {self.proc.wait()})")
                self._buffer += chunk
        line, rest = self._buffer.split(b"\n", 1)
        if consume:
            self._buffer = rest
        return line

    # Conveniences -----------------------------------------------------------------------------

    def open(self, path, flags: str = "rw") -> int:
        answer = self.call({"op": "open", "path": str(path), "flags": flags})
        assert answer["ok"], (self.name, answer)
        return answer["fd"]

    def close_fd(self, fd: int) -> None:
        answer = self.call({"op": "close", "fd": fd})
        assert answer["ok"], (self.name, answer)

    def fcntl(self, fd: int, cmd: str, type: str, start: int = 0, length: int = 0, *, alarm: float = 0,
              timeout: float = 10) -> dict:
        return self.call({"op": "fcntl", "fd": fd, "cmd": cmd, "type": type, "start": start, "len": length,
                          "alarm": alarm}, timeout)

    def getlk(self, fd: int, type: str = "write", start: int = 0, length: int = 0, cmd: str = "F_GETLK") -> dict:
        answer = self.call({"op": "getlk", "fd": fd, "cmd": cmd, "type": type, "start": start, "len": length})
        assert answer["ok"], (self.name, answer)
        return answer

    def flock(self, fd: int, how: str, nb: bool = True, timeout: float = 10) -> dict:
        return self.call({"op": "flock", "fd": fd, "how": how, "nb": nb}, timeout)

    def stop(self) -> None:
        """Asks the agent to exit (closing its files, dropping its locks); kills it if it is blocked."""
        if self.proc.poll() is None:
            try:
                self.send({"op": "exit"})
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def agent_factory(registry, mount_factory):
    """`agent_factory(name)` -> a started `Agent`. Depends on `mount_factory`, so agents are
    stopped before the mounts they use are unmounted."""
    agents: list[Agent] = []

    def start(name: str) -> Agent:
        proc = registry.spawn([sys.executable, str(HERE / "lock_agent.py")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=None)
        agent = Agent(proc, name)
        agents.append(agent)
        return agent

    yield start
    for agent in reversed(agents):
        agent.stop()


if __name__ == "__main__":
    _serve()
