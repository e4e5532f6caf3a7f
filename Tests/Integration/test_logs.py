"""Logs a sysadmin can find (issue 18, item 3): `--log-file PATH` for serve and mount (a
background mount's standard error is /dev/null), `--log-format json`, quoted values in the text
format, and during an outage "server HOST:PORT not responding, still trying (N s)" then a line
saying the server is back.
"""

import json
import os
import re
import time

import pytest

import harness

needs_fuse = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")


def wait_for_text(path, pattern, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if re.search(pattern, text):
            return text
        time.sleep(0.1)
    text = path.read_text() if path.exists() else ""
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s in {path}:\n{text}")


@needs_fuse
def test_serve_and_a_background_mount_log_to_their_log_files(server_factory, run_pohmelfs, registry, tmp_path):
    server_log = tmp_path / "server-file.log"
    server = server_factory(args=["--log-file", server_log])
    wait_for_text(server_log, r"listening on loopback only", 5)
    assert "listening" not in server.log_text(), "the log went to standard error too"

    mount_log = tmp_path / "mount-file.log"
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    # Without -f: the daemon's standard error is /dev/null, the log file is all there is.
    result = run_pohmelfs("mount", server.address, mountpoint, "--log-file", mount_log)
    try:
        assert result.returncode == 0, result.stderr
        text = wait_for_text(mount_log, r"mounted", 5)
        assert f"mountpoint={mountpoint}" in text, text
    finally:
        harness.lazy_unmount(mountpoint)
        for pid, command in harness.processes_mentioning(str(mountpoint)):
            if "pohmelfs" in command:
                os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
                "pohmelfs" in command for _, command in harness.processes_mentioning(str(mountpoint))):
            time.sleep(0.05)
    wait_for_text(server_log, r"session established (\S+ )*client=\S+:" + re.escape(str(mountpoint)) + " ", 5)


def test_an_unwritable_log_file_is_a_one_line_error(run_pohmelfs, tmp_path):
    result = run_pohmelfs("serve", "--export", tmp_path, "--state-dir", tmp_path / "state",
                          "--log-file", tmp_path / "no-such-dir" / "log")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pohmelfs serve: cannot open log file"), result.stderr


def test_text_log_quotes_values_that_need_it(server_factory, run_pohmelfs, tmp_path):
    server_log = tmp_path / "server-file.log"
    server = server_factory(args=["--log-file", server_log])
    assert run_pohmelfs("locks", server.address).returncode == 0
    text = wait_for_text(server_log, r"session established", 5)
    line = next(line for line in text.splitlines() if "session established" in line)
    # The client's name has a space: quoted, so the line splits into pairs unambiguously.
    assert 'client="pohmelfs locks"' in line, line
    assert re.search(r" peer=127\.0\.0\.1:\d+( |$)", line), line


def test_json_log_is_one_object_per_line(server_factory, run_pohmelfs, tmp_path):
    server_log = tmp_path / "server-file.log"
    server = server_factory(args=["--log-file", server_log, "--log-format", "json"])
    assert run_pohmelfs("locks", server.address).returncode == 0
    wait_for_text(server_log, r"session established", 5)
    records = [json.loads(line) for line in server_log.read_text().splitlines()]
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert record["logger"] == "pohmelfs.serve"
    established = next(record for record in records if record["message"] == "session established")
    assert established["client"] == "pohmelfs locks"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", established["peer"]), established
    assert "\\/" not in server_log.read_text()


@needs_fuse
@pytest.mark.timeout_seconds(60)
def test_an_outage_is_reported_while_it_lasts_and_its_end_too(server_factory, mount_factory, tmp_path):
    server = server_factory()
    mount_log = tmp_path / "outage.log"
    mount = mount_factory(server, args=["--log-file", mount_log])
    (mount.mountpoint / "f").write_bytes(b"x")
    server.stop()
    address = re.escape(server.address)
    wait_for_text(mount_log, rf"connection to server {address} lost; reconnecting", 10)
    # The first reminder comes 5 s into the outage.
    wait_for_text(mount_log, rf"server {address} not responding, still trying \(\d+(\.\d)? s\)", 15)
    server_factory(export=server.export, state_dir=server.state_dir, port=server.port)
    assert (mount.mountpoint / "f").read_bytes() == b"x"
    wait_for_text(mount_log, rf"server {address} back after \d+(\.\d)? s", 15)
