"""`make bench-cluster`'s driver (issue 19 item 5): one tiny run of packaging/bench-cluster.sh end
to end, on its own throwaway Ceph cluster: ceph-fuse, pohmelfs through one server and through two
servers each get every figure, and nothing stays mounted or running afterwards.

Sizes are tiny: the point is that every piece runs and reports, never how fast anything is.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/fuse"),
                       reason="real mounts need root and /dev/fuse"),
    pytest.mark.skipif(shutil.which("ceph-fuse") is None or shutil.which("ceph-mon") is None,
                       reason="Ceph (ceph-mon, ceph-fuse) is not installed; packaging/install-deps.sh installs it"),
]


@pytest.mark.timeout_seconds(300)
def test_the_cluster_bench_measures_ceph_fuse_and_one_and_two_servers(tmp_path, registry, pohmelfs_bin):
    tree = tmp_path / "include"
    for index in range(12):
        (tree / f"sub{index % 3}").mkdir(parents=True, exist_ok=True)
        (tree / f"sub{index % 3}" / f"h{index}.h").write_text("#define X 1\n" * index)
    work = tmp_path / "work"
    work.mkdir()
    result = registry.run(
        [REPO / "packaging" / "bench-cluster.sh", "--size", "4M", "--files", "20", "--runs", "1",
         "--tar-source", tree],
        timeout=280, env={**os.environ, "POHMELFS_BIN": str(pohmelfs_bin), "TMPDIR": str(work)})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[3:6]]
            for line in result.stdout.splitlines() if line.startswith("| ") and not line.startswith("| workload")}
    for workload in ("copy-in throughput", "copy-out throughput", "random-read qd1", "random-read qd16",
                     "metadata create", "metadata stat", "metadata unlink", "tar -xf (1 tree; pohmelfs-2: 2 at once)"):
        assert workload in rows, result.stdout
        assert all(re.fullmatch(r"[0-9][0-9,.]*", cell) for cell in rows[workload]), (workload, rows[workload])
    assert "bench-cluster: pohmelfs bench" not in result.stderr, result.stderr[-3000:]  # no failed run
    # Everything it started is gone: its directory, its mounts, its cluster's daemons.
    assert list(work.iterdir()) == []
    with open("/proc/mounts") as mounts:
        assert str(work) not in mounts.read()
