"""Interrupts cut short only what a local filesystem lets a signal cut short (a blocking lock
wait, a hard mount waiting for a lost server): a GETATTR the server answers is answered, so
fstat/statx never fail with EINTR however many signals the caller receives (as with io_uring's
task work, which looks like a pending signal to FUSE)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CALLS = 3000


@pytest.mark.timeout_seconds(90)
@pytest.mark.parametrize("options", ["", "cache=none"])
def test_statx_never_fails_with_eintr_under_a_storm_of_signals(server, mount_factory, registry, options):
    mount = mount_factory(server, options)
    (mount.mountpoint / "f").write_bytes(b"x" * 100)
    worker = registry.spawn([sys.executable, HERE / "interrupt_worker.py", mount.mountpoint / "f", str(CALLS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = worker.communicate(timeout=80)
    assert worker.returncode == 0, err
    counts = json.loads(out)
    assert counts["signals"] > 100, f"the signal storm did not happen: {counts}"
    assert (counts["calls"], counts["eintr"], counts["errors"]) == (CALLS, 0, 0), counts
