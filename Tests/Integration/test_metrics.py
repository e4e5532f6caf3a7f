"""`pohmelfs serve --metrics`: Prometheus text over HTTP that parses, and whose figures move when
a client does I/O through a real mount; and the mount's STATUS= lines with live figures."""

from __future__ import annotations

import http.client
import math
import os
import re
import socket
import time

import pytest

from harness import free_port

# A Prometheus text-format (0.0.4) parser, strict enough to catch a malformed exposition ---------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})?\s+(\S+)(?:\s+(-?\d+))?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_labels(text: str) -> dict[str, str]:
    labels, position = {}, 0
    while position < len(text):
        match = _LABEL.match(text, position)
        assert match, f"malformed labels at {text[position:]!r}"
        name, value = match.group(1), match.group(2)
        assert name not in labels, f"label {name} repeated in {{{text}}}"
        labels[name] = re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)
        position = match.end()
    return labels


def parse_value(text: str) -> float:
    special = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    return special[text] if text in special else float(text)


class Exposition:
    """Families (name -> type, help) and samples ((name, frozenset(labels)) -> value)."""

    def __init__(self, text: str):
        self.types: dict[str, str] = {}
        self.helps: dict[str, str] = {}
        self.samples: dict[tuple[str, frozenset], float] = {}
        assert text.endswith("\n"), "the exposition must end with a newline"
        for number, line in enumerate(text.split("\n")[:-1], 1):
            where = f"line {number}: {line!r}"
            if line.startswith("# HELP "):
                name, _, help_text = line[7:].partition(" ")
                assert re.fullmatch(_NAME, name) and name not in self.helps, where
                self.helps[name] = help_text
            elif line.startswith("# TYPE "):
                name, _, kind = line[7:].partition(" ")
                assert re.fullmatch(_NAME, name) and kind in _TYPES, where
                assert name not in self.types, f"TYPE given twice: {where}"
                self.types[name] = kind
            elif line.startswith("#") or not line.strip():
                continue
            else:
                match = _SAMPLE.match(line)
                assert match, f"not a sample: {where}"
                name, labels, value = match.group(1), parse_labels(match.group(2) or ""), parse_value(match.group(3))
                family = self.family_of(name)
                assert family in self.types, f"sample before (or without) its TYPE line: {where}"
                key = (name, frozenset(labels.items()))
                assert key not in self.samples, f"sample repeated: {where}"
                self.samples[key] = value
        self.check_semantics()

    def family_of(self, name: str) -> str:
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and self.types.get(base) in ("histogram", "summary"):
                return base
        return name

    def check_semantics(self) -> None:
        for (name, labels), value in self.samples.items():
            kind = self.types[self.family_of(name)]
            if kind == "counter" or name.endswith(("_bucket", "_count")):
                assert value >= 0 and not math.isnan(value), f"{name}{dict(labels)} = {value}"
        # Histograms: cumulative buckets ending in +Inf, which equals _count.
        for family, kind in self.types.items():
            if kind != "histogram":
                continue
            series: dict[frozenset, list[tuple[float, float]]] = {}
            for (name, labels), value in self.samples.items():
                if name == family + "_bucket":
                    rest = frozenset((k, v) for k, v in labels if k != "le")
                    series.setdefault(rest, []).append((parse_value(dict(labels)["le"]), value))
            assert series, f"histogram {family} has no buckets"
            for rest, buckets in series.items():
                buckets.sort()
                counts = [count for _, count in buckets]
                assert counts == sorted(counts), f"{family}{dict(rest)} buckets are not cumulative"
                assert buckets[-1][0] == math.inf, f"{family}{dict(rest)} has no +Inf bucket"
                assert self.samples[(family + "_count", rest)] == buckets[-1][1]
                assert (family + "_sum", rest) in self.samples

    def value(self, name: str, **labels) -> float:
        return self.samples[(name, frozenset(labels.items()))]


def scrape(address: str) -> tuple[int, dict[str, str], str]:
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


# Tests --------------------------------------------------------------------------------------------


def test_the_parser_rejects_what_prometheus_would_reject():
    with pytest.raises(AssertionError):
        Exposition("no_type_line 1\n")
    with pytest.raises(AssertionError):
        Exposition("# TYPE x counter\nx{a=\"1} 1\n")
    with pytest.raises(AssertionError):
        Exposition("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n")
    good = Exposition('# HELP x Things.\n# TYPE x counter\nx{a="q\\"uote"} 3\n')
    assert good.value("x", a='q"uote') == 3 and good.helps["x"] == "Things."


def test_metrics_endpoint_serves_prometheus_text_that_parses(metrics_server):
    status, headers, text = scrape(metrics_server.metrics)
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    exposition = Exposition(text)
    expected = {
        "pohmelfs_requests_total": "counter",
        "pohmelfs_request_errors_total": "counter",
        "pohmelfs_request_duration_seconds": "histogram",
        "pohmelfs_read_bytes_total": "counter",
        "pohmelfs_written_bytes_total": "counter",
        "pohmelfs_connected_clients": "gauge",
        "pohmelfs_requests_in_flight": "gauge",
        "pohmelfs_locks_held": "gauge",
        "pohmelfs_locks_waiting": "gauge",
        "pohmelfs_invalidations_sent_total": "counter",
        "pohmelfs_protocol_errors_total": "counter",
        "pohmelfs_request_negative_answers_total": "counter",
        "pohmelfs_build_info": "gauge",
        "process_cpu_seconds_total": "counter",
        "process_resident_memory_bytes": "gauge",
        "process_virtual_memory_bytes": "gauge",
        "process_start_time_seconds": "gauge",
        "process_open_fds": "gauge",
        "process_max_fds": "gauge",
    }
    for name, kind in expected.items():
        assert exposition.types.get(name) == kind, f"{name}: {exposition.types.get(name)}"
        assert exposition.helps.get(name), f"{name} has no HELP"
    assert exposition.value("pohmelfs_requests_total", opcode="WRITE") == 0
    assert exposition.value("pohmelfs_connected_clients") == 0
    assert exposition.value("pohmelfs_locks_held", kind="posix") == 0
    # Alertable series exist from the first scrape, at zero.
    assert exposition.value("pohmelfs_request_errors_total", opcode="WRITE", errno="EIO") == 0
    assert exposition.value("pohmelfs_request_negative_answers_total", opcode="LOOKUP", errno="ENOENT") == 0
    assert [labels for (name, labels) in exposition.samples if name == "pohmelfs_build_info"] == [
        frozenset({("version", "0.1.0")})]
    assert exposition.value("pohmelfs_build_info", version="0.1.0") == 1
    assert exposition.value("process_resident_memory_bytes") > 1 << 20
    assert exposition.value("process_open_fds") >= 3 and exposition.value("process_max_fds") >= 64
    assert exposition.value("process_start_time_seconds") > 1_600_000_000

    # Anything but GET /metrics is refused, and the server carries on.
    host, port = metrics_server.metrics.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/")
    assert connection.getresponse().status == 404
    connection.close()
    assert scrape(metrics_server.metrics)[0] == 200


def test_counters_move_when_a_mount_does_io(metrics_server, mount_factory):
    # Two mounts, so a write by one sends the other (a cacher of the file) an invalidation.
    first = mount_factory(metrics_server)
    second = mount_factory(metrics_server)
    before = Exposition(scrape(metrics_server.metrics)[2])
    assert before.value("pohmelfs_connected_clients") == 2

    payload = os.urandom(300_000)
    (first.mountpoint / "data").write_bytes(payload)
    assert (second.mountpoint / "data").read_bytes() == payload
    (first.mountpoint / "data").write_bytes(payload[::-1])
    assert (second.mountpoint / "data").read_bytes() == payload[::-1]
    with pytest.raises(FileNotFoundError):
        (first.mountpoint / "missing").stat()

    after = Exposition(scrape(metrics_server.metrics)[2])

    def moved(name, **labels):
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("pohmelfs_requests_total", opcode="WRITE") >= 1
    assert moved("pohmelfs_requests_total", opcode="READ") >= 1
    assert moved("pohmelfs_requests_total", opcode="CREATE") + moved("pohmelfs_requests_total", opcode="OPEN") >= 2
    # A LOOKUP of a missing name is an expected negative answer, not an error.
    assert moved("pohmelfs_request_negative_answers_total", opcode="LOOKUP", errno="ENOENT") >= 1
    assert not [(name, labels) for (name, labels) in after.samples
                if name == "pohmelfs_request_errors_total" and after.samples[(name, labels)] > 0], (
        "routine I/O counted as errors")
    assert moved("pohmelfs_written_bytes_total") >= 2 * len(payload)
    assert moved("pohmelfs_read_bytes_total") >= 2 * len(payload)
    assert moved("pohmelfs_request_duration_seconds_count", opcode="WRITE") == moved(
        "pohmelfs_requests_total", opcode="WRITE")
    assert after.value("pohmelfs_request_duration_seconds_sum", opcode="WRITE") > 0
    assert moved("pohmelfs_invalidations_sent_total") >= 1
    assert after.value("pohmelfs_connected_clients") == 2


def test_a_failure_is_counted_by_opcode_and_errno(server_factory, mount_factory):
    address = f"127.0.0.1:{free_port()}"
    server = server_factory(args=["--metrics", address, "--read-only"])
    (server.export / "existing").write_bytes(b"x")
    mount = mount_factory(server)
    with pytest.raises(OSError):
        (mount.mountpoint / "new").write_bytes(b"y")
    exposition = Exposition(scrape(address)[2])
    failures = {dict(labels)["errno"]: value for (name, labels), value in exposition.samples.items()
                if name == "pohmelfs_request_errors_total" and value > 0}
    assert failures.get("EROFS", 0) >= 1, failures


def test_locks_held_and_waiting_show_in_the_gauges(metrics_server, mount_factory, registry):
    import fcntl

    first = mount_factory(metrics_server)
    second = mount_factory(metrics_server)
    path = first.mountpoint / "locked"
    path.write_bytes(b"x" * 100)
    holder = open(path, "r+b")
    try:
        fcntl.lockf(holder, fcntl.LOCK_EX, 10, 0)
        exposition = Exposition(scrape(metrics_server.metrics)[2])
        assert exposition.value("pohmelfs_locks_held", kind="posix") == 1
        assert exposition.value("pohmelfs_locks_waiting", kind="posix") == 0
        # A blocked F_SETLKW from another mount (another process, so another lock owner).
        waiter = registry.spawn([
            "python3", "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'r+b'); fcntl.lockf(f, fcntl.LOCK_EX, 10, 0)",
            str(second.mountpoint / "locked")])
        deadline = time.monotonic() + 10
        while True:
            exposition = Exposition(scrape(metrics_server.metrics)[2])
            if exposition.value("pohmelfs_locks_waiting", kind="posix") == 1:
                break
            assert time.monotonic() < deadline, "the blocked lock never showed as waiting"
            time.sleep(0.05)
        fcntl.lockf(holder, fcntl.LOCK_UN, 10, 0)
        assert waiter.wait(timeout=10) == 0
    finally:
        holder.close()
    exposition = Exposition(scrape(metrics_server.metrics)[2])
    assert exposition.value("pohmelfs_locks_waiting", kind="posix") == 0


def test_metrics_address_errors_are_one_line(run_pohmelfs, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    bad = run_pohmelfs("serve", "--export", export, "--state-dir", tmp_path / "state", "--metrics", "127.0.0.1:99999")
    assert bad.returncode == 2  # a usage error (README, "Exit status")
    assert bad.stderr.strip().startswith("pohmelfs serve: --metrics '127.0.0.1:99999' is not")
    assert len(bad.stderr.strip().splitlines()) == 1

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_pohmelfs(
            "serve", "--export", export, "--state-dir", tmp_path / "state",
            "--listen", f"127.0.0.1:{free_port()}", "--metrics", f"127.0.0.1:{port}")
    assert busy.returncode == 1
    assert "already in use" in busy.stderr and busy.stderr.count("\n") == 1, busy.stderr


def test_mount_sends_status_lines_with_live_figures(server, mount_factory):
    handle = mount_factory(server, args=["--status-interval", "0.2"])
    (handle.mountpoint / "f").write_bytes(b"hello")
    assert (handle.mountpoint / "f").read_bytes() == b"hello"
    pattern = re.compile(r"^STATUS=mounted .* at .*; \d+ requests in flight, (\d+) served$")
    deadline = time.monotonic() + 10
    served = 0
    while time.monotonic() < deadline:
        for line in handle.notify.assignments():
            match = pattern.match(line)
            if match:
                served = max(served, int(match.group(1)))
        if served > 0:
            break
        time.sleep(0.1)
    assert served > 0, f"no STATUS= line with figures; got {handle.notify.assignments()}"
