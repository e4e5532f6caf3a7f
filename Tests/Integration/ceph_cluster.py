"""A throwaway single-node Ceph for the CephFS store's tests, run by packaging/ceph-cluster.sh.

`CephCluster.start(directory)` brings one up (about 5 s) or raises `CephUnavailable` saying
why; `stop()` kills its daemons (by PID file). `fresh_export()` hands out an empty directory
of the CephFS per server (made in batches, one libcephfs client per batch), and
`serve_args(path)` is what `pohmelfs serve` needs to export it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import harness

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "packaging" / "ceph-cluster.sh"
TOOLS = ("ceph", "ceph-mon", "ceph-osd", "ceph-mds", "ceph-authtool", "monmaptool", "uuidgen")
# Directories made per batch: one libcephfs client start (~0.3 s) serves this many servers.
BATCH = 32


class CephUnavailable(Exception):
    """Ceph cannot run here; the message says why (for the skip reason)."""


class CephCluster:
    def __init__(self, directory: Path, port: int, values: dict[str, str]):
        self.directory = directory
        self.port = port
        self.conf = values["conf"]
        self.keyring = values["keyring"]
        self.id = values["id"]
        self.fs = values["fs"]
        self._made: list[str] = []
        self._next = 0

    @classmethod
    def start(cls, directory: Path) -> "CephCluster":
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise CephUnavailable(f"Ceph is not installed ({', '.join(missing)} missing; "
                                  f"packaging/install-deps.sh installs it)")
        if not Path("/usr/lib/x86_64-linux-gnu/libcephfs.so.2").exists() and shutil.which("ldconfig"):
            listed = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
            if "libcephfs.so.2" not in listed:
                raise CephUnavailable("libcephfs2 is not installed (packaging/install-deps.sh installs it)")
        port = int(os.environ.get("POHMELFS_CEPH_PORT") or harness.free_port())
        result = subprocess.run([SCRIPT, "start", directory, "--port", str(port)],
                                capture_output=True, text=True, timeout=150)
        if result.returncode != 0:
            subprocess.run([SCRIPT, "stop", directory], capture_output=True, timeout=30)
            raise CephUnavailable(f"packaging/ceph-cluster.sh start failed (status {result.returncode}): "
                                  f"{result.stderr.strip()[-1500:]}")
        values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        return cls(directory, port, values)

    def stop(self) -> None:
        subprocess.run([SCRIPT, "stop", self.directory], capture_output=True, timeout=60)

    def fresh_export(self) -> str:
        """An empty directory of the CephFS, never handed out before (a path like /export/t0007)."""
        if self._next == len(self._made):
            batch = [f"/export/t{number:04d}" for number in range(len(self._made) + 1, len(self._made) + BATCH + 1)]
            result = subprocess.run([SCRIPT, "mkdir", self.directory, *batch],
                                    capture_output=True, text=True, timeout=90)
            if result.returncode != 0:
                raise AssertionError(f"ceph-cluster.sh mkdir failed: {result.stderr.strip()}")
            self._made += batch
        path = self._made[self._next]
        self._next += 1
        return path

    def serve_args(self, export: str) -> list[str]:
        return ["--store", "cephfs", "--ceph-conf", self.conf, "--ceph-id", self.id, "--ceph-fs", self.fs,
                "--export", export]
