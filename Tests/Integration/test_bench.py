"""`pohmelfs bench` end to end: the built binary over temporary local directories.

Self-contained (tmp_path and subprocess only). The binary comes from $POHMELFS_BIN, default
.build/debug/pohmelfs in the checkout. Sizes are small: the point is that every workload runs,
verifies and reports, not how fast anything is. Speed is never asserted.
"""

import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--size", "2M", "--files", "60", "--runs", "1", "--seed", "7"]
TIMEOUT = 300

WORKLOADS = [
    "copy-in", "copy-out", "copy-out-cached", "random-read", "tree-in", "tree-out", "metadata", "check-atomic",
]
METRICS = {
    "copy-in": ["throughput"],
    "copy-out": ["throughput"],
    "copy-out-cached": ["throughput"],
    "random-read": ["qd1", "qd16"],
    "tree-in": ["elapsed", "rate"],
    "tree-out": ["elapsed", "rate"],
    "metadata": ["create", "stat", "rename", "unlink"],
    "check-atomic": ["reads", "torn-reads", "writes"],
}
# The keys documented in Sources/Core/Documentation.docc/BenchJSON.md.
TOP_LEVEL_KEYS = {
    "schema", "schemaVersion", "tool", "startedAt", "durationSeconds", "host", "settings", "targets", "figures",
    "verification", "errors", "interrupted", "passed",
}
SETTINGS_KEYS = {"sizeBytes", "files", "runs", "jobs", "seed", "workloads", "keep"}
TARGET_KEYS = {"index", "label", "path", "resolvedPath", "filesystem", "mountPoint"}
FIGURE_KEYS = {
    "workload", "metric", "unit", "better", "target", "samples", "median", "min", "max", "ratioToFirst", "notes",
}
VERIFICATION_KEYS = {"verifiedBytes", "verifiedFiles", "mismatches"}


def binary():
    path = Path(os.environ.get("POHMELFS_BIN", ".build/debug/pohmelfs"))
    if not path.is_absolute():
        path = REPO / path
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built (swift build, or set POHMELFS_BIN)")
    return str(path)


def bench(*args, timeout=TIMEOUT):
    return subprocess.run(
        [binary(), "bench", *map(str, args)], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def two_targets(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    return a, b


def svg_text(path):
    """Parses the SVG (raising on malformed XML) and returns its root and all its text."""
    root = ElementTree.parse(path).getroot()
    return root, " ".join("".join(element.itertext()) for element in root.iter())


def mount(*args):
    return subprocess.run(["mount", *map(str, args)], capture_output=True, text=True, timeout=30)


def umount(path):
    subprocess.run(["umount", str(path)], capture_output=True, text=True, timeout=30)


def test_every_workload_runs_and_the_json_matches_the_schema(tmp_path):
    a, b = two_targets(tmp_path)
    chart = tmp_path / "chart.svg"
    result = bench(a, b, *SMALL, "--check-atomic", "--json", "--plot", chart)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    assert set(report) == TOP_LEVEL_KEYS
    assert report["schema"] == "pohmelfs-bench"
    assert report["schemaVersion"] == 1
    assert report["passed"] is True
    assert report["interrupted"] is False
    assert report["errors"] == []
    assert set(report["settings"]) == SETTINGS_KEYS
    assert report["settings"]["workloads"] == WORKLOADS
    assert report["settings"]["sizeBytes"] == 2 << 20
    assert [t["label"] for t in report["targets"]] == ["A", "B"]
    assert [t["path"] for t in report["targets"]] == [str(a), str(b)]
    for target in report["targets"]:
        assert set(target) == TARGET_KEYS
    assert set(report["verification"]) == VERIFICATION_KEYS
    assert report["verification"]["mismatches"] == []
    assert report["verification"]["verifiedBytes"] > 4 << 20

    figures = {(f["workload"], f["metric"], f["target"]): f for f in report["figures"]}
    for workload, metrics in METRICS.items():
        for metric in metrics:
            for target in (0, 1):
                figure = figures[(workload, metric, target)]
                assert set(figure) == FIGURE_KEYS
                assert len(figure["samples"]) == 1
                assert figure["min"] <= figure["median"] <= figure["max"]
                if figure["better"] == "none":
                    assert figure["ratioToFirst"] is None
                elif target == 0:
                    assert figure["ratioToFirst"] == pytest.approx(1)
    assert figures[("check-atomic", "reads", 0)]["median"] > 0

    root, text = svg_text(chart)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert str(a) in text and str(b) in text
    assert "MB/s" in text and "relative to A" in text

    # The bench cleaned up after itself.
    assert list(a.iterdir()) == [] and list(b.iterdir()) == []


def test_the_table_lists_both_targets_with_medians_and_ratios(tmp_path):
    a, b = two_targets(tmp_path)
    result = bench(a, b, *SMALL, "--runs", "2", "--workload", "copy-in,metadata")
    assert result.returncode == 0, result.stderr
    table = result.stdout
    assert f"A  {a}" in table and f"B  {b}" in table
    header = next(line for line in table.splitlines() if line.startswith("workload"))
    assert header.split() == ["workload", "figure", "unit", "A", "B", "vs", "A"]
    copy_in = next(line for line in table.splitlines() if line.startswith("copy-in"))
    assert "MB/s" in copy_in and "(" in copy_in and copy_in.endswith("×")
    assert "every byte matched what was written" in table
    # Progress goes to standard error, one plain line per step when it is not a terminal, and the
    # targets take turns within each run: A B, A B.
    steps = [line.split(" (")[0] for line in result.stderr.splitlines() if line.startswith("[")]
    assert steps == [
        "[1/8] run 1/2 copy-in on A", "[2/8] run 1/2 copy-in on B",
        "[3/8] run 1/2 metadata on A", "[4/8] run 1/2 metadata on B",
        "[5/8] run 2/2 copy-in on A", "[6/8] run 2/2 copy-in on B",
        "[7/8] run 2/2 metadata on A", "[8/8] run 2/2 metadata on B",
    ]


@pytest.mark.parametrize("workload", WORKLOADS)
def test_each_workload_runs_alone(tmp_path, workload):
    a, _ = two_targets(tmp_path)
    result = bench(a, *SMALL, "--workload", workload, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["settings"]["workloads"] == [workload]
    assert sorted(f["metric"] for f in report["figures"]) == sorted(METRICS[workload])
    assert report["passed"] is True


def test_jobs_split_the_work_into_streams(tmp_path):
    a, b = two_targets(tmp_path)
    result = bench(a, b, *SMALL, "--jobs", "3", "--workload", "copy-in,copy-out,tree-in,tree-out", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["settings"]["jobs"] == 3
    assert report["passed"] is True


def test_keep_leaves_the_working_directory(tmp_path):
    a, _ = two_targets(tmp_path)
    result = bench(a, *SMALL, "--workload", "copy-in", "--keep")
    assert result.returncode == 0, result.stderr
    kept = [p for p in a.iterdir() if p.name.startswith("pohmelfs-bench-")]
    assert len(kept) == 1
    assert (kept[0] / "large-0.bin").stat().st_size == 2 << 20
    assert f"kept {kept[0]}" in result.stderr


def assert_refused(result, message, *untouched):
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("pohmelfs bench: ") and message in line for line in lines), result.stderr
    # Refused before any work: nothing was left in any target.
    for directory in untouched:
        assert [p.name for p in directory.iterdir() if p.name.startswith("pohmelfs-bench-")] == []


def test_a_missing_target_is_refused_before_any_work(tmp_path):
    a, _ = two_targets(tmp_path)
    missing = tmp_path / "missing"
    assert_refused(bench(a, missing, *SMALL), f"{missing}: no such directory", a)


def test_a_file_target_is_refused_before_any_work(tmp_path):
    a, _ = two_targets(tmp_path)
    plain = tmp_path / "plain-file"
    plain.write_text("not a directory\n")
    assert_refused(bench(a, plain, *SMALL), f"{plain}: not a directory", a)


def test_every_bad_target_gets_its_own_line(tmp_path):
    plain = tmp_path / "plain-file"
    plain.write_text("x")
    result = bench(tmp_path / "gone", plain, *SMALL)
    assert result.returncode != 0
    assert "gone: no such directory" in result.stderr
    assert "plain-file: not a directory" in result.stderr


def test_a_read_only_target_is_refused_before_any_work(tmp_path):
    a, b = two_targets(tmp_path)
    if os.geteuid() != 0:
        b.chmod(0o555)
    else:
        # Root ignores permission bits; a read-only filesystem stops root too.
        mounted = mount("-t", "tmpfs", "-o", "ro,size=4m", "tmpfs", b)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs to test with: {mounted.stderr.strip()}")
    try:
        result = bench(a, b, *SMALL)
        assert_refused(result, f"{b}: not writable", a)
    finally:
        if os.geteuid() == 0:
            umount(b)
        else:
            b.chmod(0o755)


def test_a_target_too_small_for_the_workloads_is_refused_before_any_work(tmp_path):
    a, b = two_targets(tmp_path)
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mounted = mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", b)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to test with: {mounted.stderr.strip()}")
    try:
        result = bench(a, b, *SMALL, "--workload", "copy-in")
        assert_refused(result, f"{b}: too small", a, b)
        assert "need" in result.stderr and "--size 2.0 MiB" in result.stderr
    finally:
        umount(b)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--workload", "copy-sideways"], "unknown workload 'copy-sideways'"),
        (["--size", "lots"], "--size 'lots' is not a size"),
        (["--runs", "0"], "--runs must be"),
        (["--size", "1K"], "--size must be at least"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(tmp_path, arguments, message):
    a, _ = two_targets(tmp_path)
    result = bench(a, *arguments)
    assert result.returncode != 0
    assert message in result.stderr
    assert list(a.iterdir()) == []


def test_no_target_is_an_error(tmp_path):
    result = bench()
    assert result.returncode != 0
    assert "TARGET" in result.stderr


def test_an_interrupted_bench_removes_its_files_and_exits_130(tmp_path):
    a, _ = two_targets(tmp_path)
    process = subprocess.Popen(
        [binary(), "bench", a, *SMALL, "--workload", "check-atomic"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        # Wait until the check is under way (it runs for up to 5 s), then interrupt it.
        deadline = time.monotonic() + 60
        while not any(p.name.startswith("pohmelfs-bench-") for p in a.iterdir()):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout
    assert list(a.iterdir()) == []


def test_bench_over_a_local_directory_and_a_pohmelfs_mount(tmp_path, server, mount):
    """Issue 6: every workload over a local directory and a real pohmelfs mount, side by side;
    the JSON has both targets (the mount's filesystem type named) and the SVG names both."""
    local = tmp_path / "local"
    local.mkdir()
    chart = tmp_path / "mount-chart.svg"
    result = bench(local, mount.mountpoint, *SMALL, "--check-atomic", "--json", "--plot", chart)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == TOP_LEVEL_KEYS
    assert report["passed"] is True
    assert [t["path"] for t in report["targets"]] == [str(local), str(mount.mountpoint)]
    assert report["targets"][1]["filesystem"] == "fuse.pohmelfs"
    assert report["verification"]["mismatches"] == []
    measured = {(f["workload"], f["target"]) for f in report["figures"]}
    for workload in METRICS:
        assert (workload, 0) in measured and (workload, 1) in measured, workload
    root, text = svg_text(chart)
    assert str(local) in text and str(mount.mountpoint) in text
    # Nothing of the bench's is left on the mount or on the server's side.
    assert os.listdir(mount.mountpoint) == [] and os.listdir(server.export) == []

    table = bench(local, mount.mountpoint, *SMALL, "--workload", "metadata")
    assert table.returncode == 0, table.stderr
    assert str(local) in table.stdout and str(mount.mountpoint) in table.stdout
