#!/usr/bin/env python3
"""Many clients of one server (issue 17, item 4): mounts 1, 4 and 16 pohmelfs clients of one
`pohmelfs serve` and runs, on every mount at once, one process doing random 4 KiB O_DIRECT reads
of a shared file (then, with --writes, random 4 KiB O_DIRECT writes to a file of its own) for
--seconds. Prints aggregate IOPS, the server's RSS (now and peak) and the server's and the
clients' CPU per request, from /proc. With --passthrough it also runs the same number of
processes (default 16) on libfuse's passthrough_ll over a local directory, the FUSE ceiling
(packaging/bench-passthrough.sh builds it).

    POHMELFS_BIN=.build/release/pohmelfs packaging/bench_many_clients.py \\
        [--clients 1,4,16] [--seconds 10] [--file-size 256M] [--port 17390] [--writes] \\
        [--passthrough .build/bench/passthrough_ll] [--json]

A helper to run by hand, not a timed test: use a release build and a quiet machine, one bench
at a time. Everything it starts (server, mounts, workers) is stopped and unmounted on every
exit; it refuses to start on a busy mountpoint because it makes fresh ones in a temporary
directory (under $TMPDIR or /tmp)."""

import argparse
import json
import mmap
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAGE = 4096
CLOCK = os.sysconf("SC_CLK_TCK")


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.upper().rstrip("IB")
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def cpu_seconds(pid: int) -> float:
    """User plus system time of the process and all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of the process."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def is_mounted(path: Path) -> bool:
    return any(line.split()[1] == str(path) for line in Path("/proc/mounts").read_text().splitlines())


def wait_mounted(path: Path, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not is_mounted(path):
        if process.poll() is not None:
            raise SystemExit(f"the mount of {path} exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} was not mounted within {timeout} s")
        time.sleep(0.05)


def worker(path: str, size: int, seconds: float, write: bool, seed: int, out) -> None:
    """Random 4 KiB O_DIRECT reads (or writes) of `path` for `seconds`: writes the count to `out`."""
    fd = os.open(path, (os.O_RDWR if write else os.O_RDONLY) | os.O_DIRECT)
    buffer = mmap.mmap(-1, PAGE)  # page-aligned, as O_DIRECT wants
    buffer.write(os.urandom(PAGE))
    pages = size // PAGE
    rng = random.Random(seed)
    count = 0
    deadline = time.monotonic() + seconds
    while True:
        for _ in range(64):
            offset = rng.randrange(pages) * PAGE
            if write:
                os.pwritev(fd, [buffer], offset)
            else:
                os.preadv(fd, [buffer], offset)
        count += 64
        if time.monotonic() >= deadline:
            break
    os.close(fd)
    out.write(f"{count}\n")
    out.flush()


def run_workers(paths: list[str], size: int, seconds: float, write: bool) -> int:
    """Runs one worker process per path at once; returns the total operations."""
    children = []
    for i, path in enumerate(paths):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                with os.fdopen(write_end, "w") as out:
                    worker(path, size, seconds, write, 1 + i, out)
            finally:
                os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    total = 0
    for pid, read_end in children:
        with os.fdopen(read_end) as pipe:
            text = pipe.read().strip()
        os.waitpid(pid, 0)
        if not text:
            raise SystemExit(f"a worker on {paths[0]} failed (see its error above)")
        total += int(text)
    return total


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="pohmelfs-many-clients."))
        self.processes: list[subprocess.Popen] = []
        self.mountpoints: list[Path] = []

    def start(self, command: list[str], log: str) -> subprocess.Popen:
        process = subprocess.Popen(command, stdout=open(self.work / log, "w"), stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def mount(self, command: list[str], mountpoint: Path, log: str) -> subprocess.Popen:
        mountpoint.mkdir(parents=True)
        if is_mounted(mountpoint):
            raise SystemExit(f"{mountpoint} is already a mountpoint")
        process = self.start(command, log)
        self.mountpoints.append(mountpoint)
        wait_mounted(mountpoint, process)
        return process

    def unmount(self, mountpoint: Path) -> None:
        if is_mounted(mountpoint):
            if subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True).returncode != 0:
                subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], capture_output=True)
        if mountpoint in self.mountpoints:
            self.mountpoints.remove(mountpoint)

    def teardown(self) -> None:
        for mountpoint in list(self.mountpoints):
            self.unmount(mountpoint)
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    def pohmelfs(self, clients: int, size: int) -> dict:
        """One fresh server; `clients` mounts of it; reads, then (with --writes) writes."""
        binary, port = self.args.bin, self.args.port
        export, state = self.work / f"export{clients}", self.work / f"state{clients}"
        export.mkdir()
        state.mkdir()
        make_file(export / "shared", size)
        for i in range(clients):
            make_file(export / f"own{i}", min(size, 16 << 20))
        server = self.start(
            [binary, "serve", "--export", str(export), "--listen", f"127.0.0.1:{port}", "--state-dir", str(state)],
            f"serve{clients}.log")
        deadline = time.monotonic() + 20
        while True:
            probe = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], capture_output=True)
            if probe.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start (see {self.work}/serve{clients}.log)")
            time.sleep(0.1)
        mounts, clients_pids = [], []
        for i in range(clients):
            mountpoint = self.work / f"m{clients}-{i}"
            process = self.mount([binary, "mount", f"127.0.0.1:{port}", str(mountpoint), "-f"], mountpoint,
                                 f"mount{clients}-{i}.log")
            mounts.append(mountpoint)
            clients_pids.append(process.pid)
        result = {"clients": clients}
        phases = [("read", False)] + ([("write", True)] if self.args.writes else [])
        for phase, write in phases:
            paths = [str(m / ("own%d" % i if write else "shared")) for i, m in enumerate(mounts)]
            file_size = min(size, 16 << 20) if write else size
            server_cpu, client_cpu = cpu_seconds(server.pid), sum(cpu_seconds(p) for p in clients_pids)
            started = time.monotonic()
            ops = run_workers(paths, file_size, self.args.seconds, write)
            elapsed = time.monotonic() - started
            server_cpu = cpu_seconds(server.pid) - server_cpu
            client_cpu = sum(cpu_seconds(p) for p in clients_pids) - client_cpu
            rss, peak = memory_kib(server.pid)
            result[phase] = {
                "iops": round(ops / elapsed), "server_cpu_us_per_op": round(server_cpu / ops * 1e6, 1),
                "clients_cpu_us_per_op": round(client_cpu / ops * 1e6, 1),
                "server_rss_mib": round(rss / 1024, 1), "server_peak_rss_mib": round(peak / 1024, 1)}
        for mountpoint in mounts:
            self.unmount(mountpoint)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        shutil.rmtree(export, ignore_errors=True)
        return result

    def passthrough(self, threads: int, size: int) -> dict:
        source, mountpoint = self.work / "passthrough-source", self.work / "passthrough"
        source.mkdir()
        make_file(source / "shared", size)
        process = self.mount([self.args.passthrough, "-f", "-o", f"source={source}", str(mountpoint)], mountpoint,
                             "passthrough.log")
        cpu = cpu_seconds(process.pid)
        started = time.monotonic()
        ops = run_workers([str(mountpoint / "shared")] * threads, size, self.args.seconds, False)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(process.pid) - cpu
        rss, peak = memory_kib(process.pid)
        self.unmount(mountpoint)
        return {"threads": threads, "read": {"iops": round(ops / elapsed),
                                             "daemon_cpu_us_per_op": round(cpu / ops * 1e6, 1),
                                             "daemon_rss_mib": round(rss / 1024, 1)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.environ.get("POHMELFS_BIN", ".build/release/pohmelfs"))
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--file-size", default="256M")
    parser.add_argument("--port", type=int, default=17390)
    parser.add_argument("--writes", action="store_true", help="also random 4 KiB writes (a file per client)")
    parser.add_argument("--passthrough", help="passthrough_ll binary: also measure it with --threads processes")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.bin = str(Path(args.bin).resolve())
    if not os.access(args.bin, os.X_OK):
        parser.error(f"{args.bin} is not an executable (build it, or set POHMELFS_BIN)")
    size = parse_size(args.file_size)
    try:
        counts = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error(f"--clients wants numbers separated by commas, not {args.clients!r}")
    bench = Bench(args)
    report = {"load_before": os.getloadavg(), "pohmelfs": [], "passthrough": None}
    try:
        for clients in counts:
            report["pohmelfs"].append(bench.pohmelfs(clients, size))
            print(json.dumps(report["pohmelfs"][-1]), file=sys.stderr)
        if args.passthrough:
            report["passthrough"] = bench.passthrough(args.threads, size)
            print(json.dumps(report["passthrough"]), file=sys.stderr)
    finally:
        bench.teardown()
    report["load_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"load average before {report['load_before'][0]:.2f}, after {report['load_after'][0]:.2f}")
    print(f"{'target':<22}{'phase':<7}{'IOPS':>9}{'srv µs/op':>11}{'cli µs/op':>11}{'srv RSS MiB':>13}")
    for row in report["pohmelfs"]:
        for phase in ("read", "write"):
            if phase in row:
                r = row[phase]
                print(f"{'pohmelfs ×' + str(row['clients']):<22}{phase:<7}{r['iops']:>9}"
                      f"{r['server_cpu_us_per_op']:>11}{r['clients_cpu_us_per_op']:>11}"
                      f"{r['server_rss_mib']:>7} ({r['server_peak_rss_mib']})")
    if report["passthrough"]:
        r = report["passthrough"]["read"]
        print(f"{'passthrough_ll ×' + str(report['passthrough']['threads']):<22}{'read':<7}{r['iops']:>9}"
              f"{r['daemon_cpu_us_per_op']:>11}{'':>11}{r['daemon_rss_mib']:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
