"""A mount naming two `pohmelfs serve --store cephfs` gateways of one export survives the SIGKILL
of the gateway it uses during a copy (issue 19, "Done when"): the copy finishes through the
other gateway and the checksums are equal.

The stall: the dead gateway's CephFS session still holds the file's capabilities, so the
survivor's first write waits until the MDS drops that session. With `serve --gateway-id`, the
survivor resets it (libcephfs reclaim, CEPH_RECLAIM_RESET) once the dead gateway's heartbeat
record in /.pohmelfs/gateways has not moved for the dead-after time (docs/OPERATIONS.md,
"Failover between CephFS gateways"); without it the MDS waits for session_timeout (30 s on the
test cluster) plus its tick (34-39 s measured here). The test prints the stall and asserts it is
shorter than session_timeout (so the reset, not the timeout, ended it).
"""

from __future__ import annotations

import os
import sys
import time
from types import SimpleNamespace

import pytest

import harness
from payloads import sha256_of, write_random_file

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

# The issue asks for 256 MiB; the suite copies 64 MiB to keep its time small.
COPY_MIB = int(os.environ.get("POHMELFS_CEPH_FAILOVER_MIB", "64"))
MOVED = "lost; moved to"

# Copies `src` to `dst` 1 MiB per write(2) (the mount caches nothing on a shared store, so each
# write is answered by the gateway), printing "<MiB written> <monotonic time>" after each, then
# fsyncs.
COPIER = r"""
import os, sys, time
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb", buffering=0) as i, open(dst, "wb", buffering=0) as o:
    n = 0
    while chunk := i.read(1 << 20):
        o.write(chunk)
        n += 1
        print(n, time.monotonic(), flush=True)
    os.fsync(o.fileno())
print("done", time.monotonic(), flush=True)
"""


def both(*servers):
    return SimpleNamespace(address=",".join(s.address for s in servers))


@pytest.mark.timeout_seconds(150)
def test_a_copy_through_a_killed_gateway_finishes_through_the_other(ceph_cluster, server_factory, mount_factory,
                                                                   registry, tmp_path):
    a = server_factory(cephfs=ceph_cluster, args=("--gateway-id", "fa"))
    b = server_factory(cephfs=ceph_cluster, cephfs_export=a.cephfs_export, args=("--gateway-id", "fb"))
    # B must know A (have read its record) before A dies: that is the gateways' set-up, done in
    # the first second or two after they start.
    deadline = time.monotonic() + 15
    while "peer gateway fa at" not in harness.read_log(b.log) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "peer gateway fa at" in harness.read_log(b.log), harness.read_log(b.log)
    mount = mount_factory(both(a, b))
    size = COPY_MIB << 20
    original = tmp_path / "original"
    want = write_random_file(original, size)
    progress = tmp_path / "copy.out"
    with open(progress, "w") as out:
        copy = registry.spawn([sys.executable, "-c", COPIER, original, mount.mountpoint / "copy"],
                              stdout=out, label="copier")

    def lines():
        return [line.split() for line in progress.read_text().splitlines() if line.strip()]

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and copy.poll() is None and len(lines()) < COPY_MIB // 4:
            time.sleep(0.005)
        assert copy.poll() is None, f"the copy ended before the kill point: {progress.read_text()[-500:]}"
        a.crash()
        killed = time.monotonic()
        at_kill = len(lines())
        assert copy.wait(timeout=100) == 0, f"the copy failed: {progress.read_text()[-500:]}"
        after = [float(t) for n, t in lines() if float(t) > killed]
        stall = after[0] - killed
        assert sha256_of(mount.mountpoint / "copy") == want, "the copy read back through the mount (B) differs"
        fresh = mount_factory(b)
        assert sha256_of(fresh.mountpoint / "copy") == want, "the copy read through a fresh mount of B differs"
    finally:
        original.unlink(missing_ok=True)
    log = mount.log_text()
    assert f"server {a.address} {MOVED} {b.address}" in log, log
    print(f"\ncopy of {COPY_MIB} MiB through CephFS gateways: killed A after {at_kill} MiB; the next write "
          f"completed through B {stall:.1f} s after the kill", file=sys.__stderr__, flush=True)
    print(f"B's log on resets: {[l for l in harness.read_log(b.log).splitlines() if 'reset' in l]}",
          file=sys.__stderr__, flush=True)
    assert f"reset the CephFS session of gateway fa ({a.address})" in harness.read_log(b.log), harness.read_log(b.log)
    # Without the reset the MDS keeps A's session for session_timeout (30 s) plus its tick: the
    # stall measured here was 34-39 s. With it, a few seconds; 25 s tells the two apart.
    assert stall < 25, f"stall {stall:.1f} s: as long as the MDS's own timeout, the reset did not help"


@pytest.mark.timeout_seconds(60)
def test_a_restarted_gateway_resets_its_own_old_session(ceph_cluster, server_factory, mount_factory, tmp_path):
    """A gateway SIGKILLed while a client writes a file through it, restarted at once with the
    same --gateway-id: it resets the session its previous run left (the MDS would otherwise
    refuse a new session with that uuid, and keep the old one's caps), and the client's open
    file keeps working through it."""
    a = server_factory(cephfs=ceph_cluster, args=("--gateway-id", "ra"))
    mount = mount_factory(a)
    with open(mount.mountpoint / "kept", "w+b", buffering=0) as kept:
        kept.write(b"before ")
        a.crash()
        a = server_factory(cephfs=ceph_cluster, cephfs_export=a.cephfs_export, port=a.port, state_dir=a.state_dir,
                           args=("--gateway-id", "ra"))
        assert "reset the CephFS session this gateway left" in a.log_text(), a.log_text()
        kept.write(b"after")
        kept.seek(0)
        assert kept.read() == b"before after"
    assert (mount.mountpoint / "kept").read_bytes() == b"before after"


def test_a_bad_gateway_id_is_refused(run_pohmelfs):
    for args, expected in [
        (["--store", "cephfs", "--gateway-id", "a/b"], "--gateway-id 'a/b' is not 1-64 of A-Z a-z 0-9 . _ -"),
        (["--gateway-id", "a"], "--gateway-id needs --store cephfs"),
    ]:
        result = run_pohmelfs("serve", "--export", "/export", *args, timeout=10)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr, result.stderr
