"""`make deb` in the background while the rest of the suite runs.

`make deb` includes the release build: on a fresh clone (CI) that is a second full compile of
every package, about eight minutes of both cores, the largest single cost of the suite. Most
integration tests wait on sockets and timers and leave CPU idle, so conftest starts the build
when the session has collected a test that needs the package, at the lowest CPU and I/O
priority (`chrt --idle 0`, `ionice -c 3`: the tests' own processes always come first; not `nice`,
which SwiftPM's build system resets for the compilers it starts), and moves
those tests to the end of the run. They then wait here for what is normally an already
finished build. The build is killed at the end of the session if it is still running, so it
never outlives the suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The build's own scratch directory (kept between runs, ignored by git like every .build*): the
#: suite runs `swift build` in `.build` too (the man-page generator), which would otherwise wait
#: for SwiftPM's lock on `.build` while this build holds it.
SCRATCH = ".build-suite-deb"

#: Tests using one of these fixtures need the package.
FIXTURES = frozenset({"deb", "unpacked"})


class BackgroundDeb:
    """One `make deb DEB_OUT=<temporary directory>` started at the lowest priority (SCHED_IDLE,
    which every process it starts inherits)."""

    def __init__(self):
        self.out = Path(tempfile.mkdtemp(prefix="pohmelfs-deb-"))
        self.log = self.out / "make-deb.log"
        self.started = time.monotonic()
        command = ["make", "--no-print-directory", "deb", f"DEB_OUT={self.out}",
                   f"RELEASE_FLAGS=-c release --static-swift-stdlib --scratch-path {SCRATCH}"]
        if shutil.which("ionice"):
            command = ["ionice", "-c", "3", *command]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["chrt", "--idle", "0", *command], cwd=REPO, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float) -> Path:
        """The package's path once `make deb` has finished; AssertionError with the end of its
        output when it failed, wrote no package, or is still running after `timeout` seconds."""
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"make deb did not finish within {timeout:g} s of waiting "
                                 f"({time.monotonic() - self.started:.0f} s after it started):\n{self.tail()}") from None
        assert status == 0, f"make deb failed (status {status}):\n{self.tail()}"
        packages = list(self.out.glob("pohmelfs_*.deb"))
        assert len(packages) == 1, f"make deb wrote {packages}:\n{self.tail()}"
        return packages[0]

    def tail(self, limit: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-limit:]

    def stop(self):
        """Kills the build's whole process group (make, swift-build, the compilers) if it runs."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def remove(self):
        self.stop()
        shutil.rmtree(self.out, ignore_errors=True)
