"""The atomic-replace pattern across clients (ConsistencyContract, "Namespace").

A writer on one mount writes a temporary file and renames it over `target`, again and again;
readers on two other mounts open and read `target` in a loop. Like on a local filesystem, no
open fails (no ESTALE) and every read returns one whole version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rename_over_worker import version

HERE = Path(__file__).resolve().parent
# Per reader (4 readers); POHMELFS_RENAME_OVER_OPENS=5000 gives the 20,000 opens.
OPENS = int(os.environ.get("POHMELFS_RENAME_OVER_OPENS", "1000"))


@pytest.mark.timeout_seconds(120 + OPENS // 25)
def test_opens_never_fail_while_another_client_renames_over_the_file(server, mount_factory, registry, tmp_path):
    writer_mount, *reader_mounts = [mount_factory(server) for _ in range(3)]
    (writer_mount.mountpoint / "target").write_bytes(version(0))
    for mount in reader_mounts:
        assert (mount.mountpoint / "target").read_bytes() == version(0)
    writer = registry.spawn(
        [sys.executable, HERE / "rename_over_worker.py", "writer", writer_mount.mountpoint, "900"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    readers = [
        registry.spawn([sys.executable, HERE / "rename_over_worker.py", "reader", mount.mountpoint, str(OPENS)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for mount in reader_mounts for _ in range(2)]
    results = []
    for reader in readers:
        out, err = reader.communicate(timeout=90 + OPENS // 25)
        assert reader.returncode == 0, err
        results.append(json.loads(out))
    writer.terminate()
    writer.communicate(timeout=10)
    total = {key: sum(r[key] for r in results) for key in ("opens", "estale", "errors", "bad")}
    first = next((r["first_error"] for r in results if r["first_error"]), "")
    assert total == {"opens": OPENS * len(readers), "estale": 0, "errors": 0, "bad": 0}, first
