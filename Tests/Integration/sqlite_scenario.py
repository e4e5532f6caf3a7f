"""The SQLite scenario shared by test_sqlite_two_mounts.py (two mounts of one server) and
test_cephfs_gateways_atomicity.py (a mount on each of two gateways): one database with a rollback
journal, one `sqlite_worker.py` writer per mount, then every mount must see the whole, intact
database.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATABASE = "shared.db"


def create_database(mountpoint: Path) -> None:
    """Creates the shared table (rollback journal: `PRAGMA journal_mode=DELETE`)."""
    setup = sqlite3.connect(mountpoint / DATABASE)
    try:
        assert setup.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        setup.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, worker INTEGER NOT NULL, n INTEGER NOT NULL, "
                      "payload TEXT NOT NULL, UNIQUE (worker, n))")
        setup.commit()
    finally:
        setup.close()


def start_writers(mountpoints: list[Path], rows: int, batch: int, registry, tmp_path: Path) -> list:
    """One writer per mountpoint (worker numbers 1, 2, ...), each inserting `rows` rows, `batch` per
    transaction; stderr goes to a log the registry prints when the test fails."""
    writers = []
    for worker, mountpoint in enumerate(mountpoints, start=1):
        log = tmp_path / f"sqlite-worker-{worker}.log"
        registry.logs.append((f"sqlite worker {worker}", log))
        with open(log, "wb") as stderr:
            writers.append(registry.spawn(
                [sys.executable, HERE / "sqlite_worker.py", mountpoint / DATABASE, str(worker), str(rows),
                 "--batch", str(batch)], stdout=subprocess.PIPE, stderr=stderr))
    return writers


def finish_writers(writers: list, timeout: float) -> list[dict]:
    """Waits for every writer; each must exit 0. Returns their JSON summaries."""
    results = []
    for writer in writers:
        out, _ = writer.communicate(timeout=timeout)
        assert writer.returncode == 0, f"worker exited with status {writer.returncode}: {out!r}"
        results.append(json.loads(out))
    return results


def assert_intact(mountpoints: list[Path], writers: int, rows: int) -> None:
    """Every mount sees an intact database holding each writer's rows 0..rows-1 exactly once."""
    for mountpoint in mountpoints:
        db = sqlite3.connect(mountpoint / DATABASE)
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == writers * rows
            for worker in range(1, writers + 1):
                count, low, high = db.execute(
                    "SELECT count(DISTINCT n), min(n), max(n) FROM rows WHERE worker = ?", (worker,)).fetchone()
                assert (count, low, high) == (rows, 0, rows - 1), (mountpoint, worker, count, low, high)
        finally:
            db.close()
