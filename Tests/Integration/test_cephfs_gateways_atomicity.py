"""Two `pohmelfs serve --store cephfs` gateways over one CephFS (the `ceph_cluster` fixture):
SQLite with one writer on a mount of each stays intact, O_DIRECT 1 MiB reads through B never
see half of a 1 MiB write made through A (issue 19, "Done when"), and O_APPEND records written
through both land whole (the append slot lock of `CephBoundaryLocks`; without it records were
overwritten within the first 20).

Torn reads: the writers (one per mount) write through gateway A, the reader reads through B,
with `torn_read_checker.py` (exact; see test_torn_reads.py) for a bounded time
(POHMELFS_CEPH_TORN_SECONDS, default 15; the issue's run is 60). Twice:

- inside one RADOS object (the checker's default layout, the first 4 MiB object): RADOS applies
  one op to one object atomically, so no read may be torn;
- across the 4 MiB object boundary (writes at 4 MiB - 512 KiB): libcephfs 16.2 sends a write
  as one op per object and reads likewise, so a read through B could see one object before a
  write through A and the other after it; a gateway's transaction locks cover only its own
  clients. The CephFS store's boundary lock (`CephBoundaryLocks`: a shared or exclusive
  fcntl lock, arbitrated by the MDS, for every op that crosses a boundary) orders the two
  gateways' ops. Without it this case tore 20 reads in 2.1 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sqlite_scenario
import torn_read_checker as trc

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

HERE = Path(__file__).resolve().parent
TORN_SECONDS = float(os.environ.get("POHMELFS_CEPH_TORN_SECONDS", "15"))
SQLITE_ROWS = int(os.environ.get("POHMELFS_CEPH_SQLITE_ROWS", "300"))
OBJECT = 4 << 20  # CephFS's default object size (stripe_count 1)


@pytest.fixture
def two_gateways(ceph_cluster, server_factory):
    a = server_factory(cephfs=ceph_cluster)
    b = server_factory(cephfs=ceph_cluster, cephfs_export=a.cephfs_export)
    return a, b


@pytest.mark.timeout_seconds(120)
def test_sqlite_one_writer_on_each_of_two_gateways_stays_intact(two_gateways, mount_factory, registry, tmp_path):
    a, b = (mount_factory(gateway) for gateway in two_gateways)
    sqlite_scenario.create_database(a.mountpoint)
    workers = sqlite_scenario.start_writers([a.mountpoint, b.mountpoint], SQLITE_ROWS, 10, registry, tmp_path)
    results = sqlite_scenario.finish_writers(workers, timeout=100)
    print(f"sqlite workers through two gateways: {json.dumps(results)}", file=sys.__stderr__)
    sqlite_scenario.assert_intact([a.mountpoint, b.mountpoint], writers=2, rows=SQLITE_ROWS)


def run_torn(two_gateways, mount_factory, registry, tmp_path, a_start: int) -> dict:
    gateway_a, gateway_b = two_gateways
    writer_mounts = [mount_factory(gateway_a), mount_factory(gateway_a)]
    reader_mount = mount_factory(gateway_b)
    layout = trc.layout_at(a_start)
    trc.initialize(str(writer_mounts[0].mountpoint / "torn"), layout)
    stop = tmp_path / "stop-writers"
    checker = [sys.executable, str(HERE / "torn_read_checker.py")]
    writers = [
        registry.spawn([*checker, "writer", "--path", m.mountpoint / "torn", "--writer", str(w), "--stop-file", stop,
                        "--max-seconds", str(TORN_SECONDS + 30), "--a-start", str(a_start)],
                       stdout=subprocess.PIPE, label=f"writer {w}")
        for m, w in zip(writer_mounts, (trc.WRITER_A, trc.WRITER_B))
    ]
    reader = registry.spawn([*checker, "reader", "--path", reader_mount.mountpoint / "torn", "--reads", "1000000000",
                             "--max-seconds", str(TORN_SECONDS), "--stop-after-torn", "20", "--a-start", str(a_start)],
                            stdout=subprocess.PIPE, label="reader")
    try:
        out, _ = reader.communicate(timeout=TORN_SECONDS + 30)
    finally:
        stop.touch()
    assert reader.returncode == 0, out
    for writer in writers:
        wout, _ = writer.communicate(timeout=30)
        assert writer.returncode == 0, wout
    result = json.loads(out)
    print(f"\ntorn reads through gateway B, writers through A, a_start={a_start}: {result['reads']} reads in "
          f"{result['seconds']} s, {result['torn']} torn, {result['invalid']} invalid, seen "
          f"{result['distinct_transactions_seen']}; examples {json.dumps(result['examples'][:2])}",
          file=sys.__stderr__, flush=True)
    assert result["invalid"] == 0, result["examples"]
    assert min(result["distinct_transactions_seen"].values()) >= 5, result
    return result


@pytest.mark.timeout_seconds(TORN_SECONDS + 90)
def test_no_torn_read_across_gateways_inside_one_rados_object(two_gateways, mount_factory, registry, tmp_path):
    result = run_torn(two_gateways, mount_factory, registry, tmp_path, trc.Layout.a_start)
    assert result["torn"] == 0, result["examples"]


@pytest.mark.timeout_seconds(TORN_SECONDS + 90)
def test_no_torn_read_across_gateways_across_a_rados_object_boundary(two_gateways, mount_factory, registry, tmp_path):
    result = run_torn(two_gateways, mount_factory, registry, tmp_path, OBJECT - (512 << 10) + 1000)
    assert result["torn"] == 0, result["examples"]


APPEND_RECORDS = int(os.environ.get("POHMELFS_CEPH_APPEND_RECORDS", "300"))


@pytest.mark.timeout_seconds(120 + APPEND_RECORDS // 10)
def test_appends_through_two_gateways_land_whole(two_gateways, mount_factory, registry, tmp_path):
    """O_APPEND writers on a mount of each gateway (ConsistencyContract, "Appends"): every record
    whole and contiguous, none lost, the size the sum of what was written."""
    from append_writer import assert_appends_land_whole

    mounts = [mount_factory(gateway) for gateway in two_gateways]
    (mounts[0].mountpoint / "log").write_bytes(b"")
    assert_appends_land_whole(
        [m.mountpoint for m in mounts], APPEND_RECORDS, registry, tmp_path, timeout=100 + APPEND_RECORDS // 10)
