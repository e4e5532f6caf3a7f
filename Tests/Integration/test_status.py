"""`pohmelfs status MOUNTPOINT [--json]` (issue 18, item 4): the server, the session, the options
in force, the traffic, the write-back backlog and the connection's state, asked of the mount
process through its status socket, and answered during an outage too."""

import json
import os
import re
import time

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")


def status(run_pohmelfs, mountpoint, *args):
    result = run_pohmelfs("status", mountpoint, *args, timeout=10)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_status_shows_server_session_options_and_traffic(server_factory, mount_factory, run_pohmelfs):
    server = server_factory()
    mount = mount_factory(server, "soft,timeout=7,cache_size=64M,attr_timeout=3")
    (mount.mountpoint / "f").write_bytes(b"hello")
    document = json.loads(status(run_pohmelfs, mount.mountpoint, "--json"))
    assert document["mountpoint"] == str(mount.mountpoint)
    assert document["server"] == server.address and document["source"] == f"{server.address}:/"
    assert document["pid"] == mount.proc.pid
    assert document["connection"]["state"] == "connected" and document["connection"]["session"] > 0
    assert document["options"] == {
        "cache": "strict", "writeback": True, "recovery": "soft", "softTimeoutSeconds": 7, "attrTimeoutSeconds": 3,
        "entryTimeoutSeconds": 1, "negativeTimeoutSeconds": 1, "cacheSizeBytes": 64 << 20, "readOnly": False,
        "tls": False}
    assert document["requests"]["answered"] > 0 and document["requests"]["inFlight"] >= 0
    assert document["writeback"]["capacityBytes"] == 64 << 20

    text = status(run_pohmelfs, mount.mountpoint)
    print(text)
    assert text.startswith(f"{mount.mountpoint}: pohmelfs {server.address}:/"), text
    assert re.search(rf"server: +{re.escape(server.address)}, connected since ", text), text
    assert "options:    cache=strict,writeback=on,soft,timeout=7,attr_timeout=3" in text, text
    assert "cache_size=64M" in text and "requests: " in text and "write-back: " in text, text


def test_status_answers_during_an_outage_and_says_so(server_factory, mount_factory, run_pohmelfs):
    server = server_factory()
    mount = mount_factory(server)  # hard: anything that asks the server would wait
    server.stop()
    deadline = time.monotonic() + 10
    state = None
    while time.monotonic() < deadline and state != "reconnecting":
        state = json.loads(status(run_pohmelfs, mount.mountpoint, "--json"))["connection"]["state"]
        time.sleep(0.1)
    assert state == "reconnecting"
    server_factory(export=server.export, state_dir=server.state_dir, port=server.port)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and state != "connected":
        state = json.loads(status(run_pohmelfs, mount.mountpoint, "--json"))["connection"]["state"]
        time.sleep(0.1)
    assert state == "connected"
    assert json.loads(status(run_pohmelfs, mount.mountpoint, "--json"))["requests"]["reconnects"] >= 1


def test_status_of_something_else_is_a_one_line_error(run_pohmelfs, tmp_path):
    for path, words in ((tmp_path, "is not a mountpoint"), ("/proc", "is not a pohmelfs mount")):
        result = run_pohmelfs("status", path)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
