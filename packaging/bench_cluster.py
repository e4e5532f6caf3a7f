#!/usr/bin/env python3
"""The cluster case of the bench (packaging/bench-cluster.sh sets up the mounts; issue 19 item 5).

Three targets on one Ceph cluster:
  ceph-fuse     one ceph-fuse mount
  pohmelfs-1    one mount through one `pohmelfs serve --store cephfs`
  pohmelfs-2    two mounts, each through its own server of one export: every workload runs on
                both at once (a `pohmelfs bench` per mount, started together per workload), and
                the figure is the sum of the two (rates, throughputs) or the wall time of both

Workloads: `pohmelfs bench`'s copy-in (1 MiB writes, fsync included), copy-out (cold: caches
dropped as root), random-read (4 KiB, QD1 and QD16, O_DIRECT) and metadata (create, stat,
rename, unlink of --files files); and `tar -xf TARBALL` followed by `sync -f` (elapsed s; for
pohmelfs-2 two extractions at once, one per mount). ceph-fuse and pohmelfs-1 are interleaved
within one `pohmelfs bench` run. Prints a table on standard output, progress on standard error.
"""

import argparse
import json
import mmap
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

WORKLOADS = ["copy-in", "copy-out", "random-read", "metadata"]


def say(message):
    print(f"bench-cluster: {message}", file=sys.stderr, flush=True)


def bench(pohmelfs, targets, workload, args):
    """`pohmelfs bench TARGETS --workload W --json`: {(metric, target index): (median, unit, better)}."""
    command = [pohmelfs, "bench", *targets, "--workload", workload, "--json", "--size", args.size,
               "--files", str(args.files), "--runs", str(args.runs)]
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    report = json.loads(result.stdout) if result.stdout.strip() else {"figures": [], "errors": []}
    for error in report.get("errors", []):
        say(f"{workload} on {targets[error['target']]}: {error['message']}")
    if result.returncode != 0:
        say(f"pohmelfs bench {workload} on {' '.join(targets)} exited with {result.returncode}")
    return {(f["metric"], f["target"]): (f["median"], f["unit"], f["better"]) for f in report["figures"]}


def tar_x(tarball, directory):
    """Seconds for `tar -xf TARBALL` into a fresh DIRECTORY/tar-x-NAME and `sync -f` on it (NAME: the
    mount's own, as two mounts may show one directory); removed after."""
    target = os.path.join(directory, f"tar-x-{os.path.basename(directory)}")
    os.makedirs(target)
    start = time.monotonic()
    subprocess.run(["tar", "-xf", tarball, "-C", target], check=True)
    subprocess.run(["sync", "-f", target], check=True)
    elapsed = time.monotonic() - start
    shutil.rmtree(target)
    return elapsed


def crossing_writes(directory, count=64):
    """What a RADOS object boundary costs (the CephFS store's boundary lock): mean ms of 1 MiB
    O_DIRECT writes + reads at 1 MiB-aligned offsets inside the 4 MiB objects, and straddling a
    boundary (4 MiB k - 512 KiB). Returns (inside, crossing)."""
    path = os.path.join(directory, f"crossing-{os.path.basename(directory)}")
    buffer = mmap.mmap(-1, 1 << 20)
    buffer.write(os.urandom(1 << 20))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    try:
        def mean_ms(offsets):
            start = time.monotonic()
            for offset in offsets:
                os.pwrite(fd, buffer, offset)
                os.preadv(fd, [buffer], offset)
            return (time.monotonic() - start) * 1000 / (2 * len(offsets))
        object_size = 4 << 20
        inside = [(i % 8) * object_size + (1 << 20) for i in range(count)]
        crossing = [(i % 8 + 1) * object_size - (512 << 10) for i in range(count)]
        mean_ms(inside[:8] + crossing[:8])  # allocate the objects, untimed
        return mean_ms(inside), mean_ms(crossing)
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pohmelfs", required=True)
    parser.add_argument("--tarball", required=True)
    parser.add_argument("--ceph-fuse", required=True)
    parser.add_argument("--one", required=True)
    parser.add_argument("--two", nargs=2, required=True)
    parser.add_argument("--size", default="64M")
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    rows = []  # (label, unit, better, ceph-fuse, pohmelfs-1, pohmelfs-2)
    for workload in WORKLOADS:
        say(f"{workload}: ceph-fuse and pohmelfs-1")
        paired = bench(args.pohmelfs, [args.ceph_fuse, args.one], workload, args)
        say(f"{workload}: pohmelfs-2 (both mounts at once)")
        with ThreadPoolExecutor(2) as pool:
            halves = list(pool.map(lambda mount: bench(args.pohmelfs, [mount], workload, args), args.two))
        for metric in sorted({metric for metric, _ in paired}):
            fuse = paired.get((metric, 0))
            one = paired.get((metric, 1))
            parts = [half.get((metric, 0)) for half in halves]
            unit, better = (fuse or one or parts[0])[1:]
            if any(part is None for part in parts):
                two = None
            elif better == "higher":
                two = sum(part[0] for part in parts)
            else:
                two = max(part[0] for part in parts)
            rows.append((f"{workload} {metric}", unit, better, fuse and fuse[0], one and one[0], two))

    say("tar -xf")
    times = {}
    for _ in range(args.runs):
        for name, directory in (("fuse", args.ceph_fuse), ("one", args.one)):
            times.setdefault(name, []).append(tar_x(args.tarball, directory))
        start = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda mount: tar_x(args.tarball, mount), args.two))
        times.setdefault("two", []).append(time.monotonic() - start)
    median = {name: sorted(values)[len(values) // 2] for name, values in times.items()}
    rows.append(("tar -xf (1 tree; pohmelfs-2: 2 at once)", "s", "lower", median["fuse"], median["one"], median["two"]))

    say("1 MiB O_DIRECT ops inside one RADOS object and across a boundary")
    def guarded(directory):
        try:
            return crossing_writes(directory)
        except OSError as error:
            say(f"O_DIRECT ops on {directory}: {error}")
            return None, None
    inside_fuse, crossing_fuse = guarded(args.ceph_fuse)
    inside_one, crossing_one = guarded(args.one)
    rows.append(("1 MiB O_DIRECT op inside a 4 MiB object", "ms", "lower", inside_fuse, inside_one, None))
    rows.append(("1 MiB O_DIRECT op across an object boundary", "ms", "lower", crossing_fuse, crossing_one, None))

    def cell(value):
        return "–" if value is None else (f"{value:,.2f}" if value < 100 else f"{value:,.0f}")

    def ratio(value, reference, better):
        if value is None or reference is None or value == 0 or reference == 0:
            return "–"
        return f"{(value / reference) if better == 'higher' else (reference / value):.2f}×"

    print(f"\nCluster bench: --size {args.size} --files {args.files} --runs {args.runs} (medians); "
          f"pohmelfs-2 = two mounts through two servers at once, summed (times: both done)")
    print("| workload | unit | ceph-fuse | pohmelfs-1 | pohmelfs-2 | pohmelfs-1 vs ceph-fuse | pohmelfs-2 vs pohmelfs-1 |")
    print("|---|---|---|---|---|---|---|")
    for label, unit, better, fuse, one, two in rows:
        # A 2-server time covers twice the work: its speed-up counts that.
        scale = 2 if better == "lower" else 1
        two_vs_one = "–" if two is None or one is None else ratio(two / scale, one, better)
        print(f"| {label} | {unit} | {cell(fuse)} | {cell(one)} | {cell(two)} | {ratio(one, fuse, better)} | {two_vs_one} |")
    print("(ratios above 1 are better: speed-up; pohmelfs-2's times count twice the work)")


if __name__ == "__main__":
    main()
