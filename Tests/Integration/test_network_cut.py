"""A network cut (issue 7): the server runs in its own network namespace, joined to this one by a
veth pair the test makes; the link goes down for 10 s in the middle of a copy and of a blocked
F_SETLKW, and both complete correctly once it is back."""

import errno
import hashlib
import os
import random
import shutil
import socket
import subprocess
import threading
import time

import pytest

import harness
from harness import NotifyListener, ServerHandle
from lock_agent import agent_factory  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"), reason="real mounts need root and /dev/fuse")

CUT = 10


def ip(*args, check=True):
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and result.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


@pytest.fixture
def veth_pair():
    """A network namespace for the server and a veth pair to it, on a random 10.x.y.0/30; all
    removed afterwards, whatever happened. Skips where namespaces cannot be made."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is not installed (packaging/install-deps.sh installs it)")
    tag = os.urandom(3).hex()
    namespace, host_side, server_side = f"pohmelfs-{tag}", f"phh{tag}", f"phs{tag}"
    subnet = f"10.{random.randrange(64, 250)}.{random.randrange(1, 250)}"
    made = ip("netns", "add", namespace, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {made.stderr.strip()}")
    try:
        ip("link", "add", host_side, "type", "veth", "peer", "name", server_side)
        ip("link", "set", server_side, "netns", namespace)
        ip("addr", "add", f"{subnet}.1/30", "dev", host_side)
        ip("link", "set", host_side, "up")
        ip("-n", namespace, "addr", "add", f"{subnet}.2/30", "dev", server_side)
        ip("-n", namespace, "link", "set", server_side, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        yield namespace, host_side, f"{subnet}.2"
    finally:
        ip("link", "del", host_side, check=False)
        ip("netns", "del", namespace, check=False)


@pytest.fixture
def namespaced_server(veth_pair, registry, pohmelfs_bin, tmp_path):
    """`pohmelfs serve` inside the namespace, listening on its end of the veth pair."""
    namespace, host_side, address = veth_pair
    export, state, log = tmp_path / "export", tmp_path / "state", tmp_path / "serve.log"
    export.mkdir()
    port = harness.free_port()
    proc = registry.spawn(["ip", "netns", "exec", namespace, pohmelfs_bin, "serve", "--export", export,
                           "--listen", f"{address}:{port}", "--state-dir", state, "--insecure"],
                          log=log, label="pohmelfs serve (namespace)")
    deadline = time.monotonic() + harness.READY_TIMEOUT
    while True:
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                harness.stop_process(proc)
                pytest.fail(f"the namespaced server did not listen: {harness.read_log(log)}", pytrace=False)
            time.sleep(0.05)
    handle = ServerHandle(address=f"{address}:{port}", host=address, port=port, export=export, state_dir=state,
                          proc=proc, log=log, notify=NotifyListener())
    try:
        yield handle, host_side
    finally:
        handle.stop()
        handle.notify.close()


def cut(host_side, seconds):
    ip("link", "set", host_side, "down")
    time.sleep(seconds)
    ip("link", "set", host_side, "up")


@pytest.mark.timeout_seconds(240)
@pytest.mark.parametrize("seconds", [CUT, 25])
def test_a_copy_survives_a_network_cut(namespaced_server, mount_factory, registry, tmp_path, seconds):
    """10 s: TCP retransmission rides it out. 25 s: longer than the client's heartbeat timeout
    (20 s), so the client gives the connection up, reconnects once the link is back, resumes its
    session (the server, which never noticed, hands it over from the old connection) and resends."""
    server, host_side = namespaced_server
    mount = mount_factory(server)
    size = 128 << 20
    original = tmp_path / "original"
    data = os.urandom(size)
    original.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    del data
    on_server = server.export / "copy"
    copy = registry.spawn(["cp", original, mount.mountpoint / "copy"], log=tmp_path / "cp.log", label="cp")
    deadline = time.monotonic() + 60
    while (not on_server.exists() or on_server.stat().st_size < size // 4) and copy.poll() is None:
        assert time.monotonic() < deadline, "the copy made no progress"
        time.sleep(0.01)
    assert copy.poll() is None, "the copy ended before the cut"
    cut_at = on_server.stat().st_size
    cut(host_side, seconds)
    assert copy.wait(timeout=150) == 0, harness.read_log(tmp_path / "cp.log")
    resumed = mount.log_text().count("session resumed")
    print(f"cut the link for {seconds} s at {cut_at >> 20} MiB of {size >> 20}; the copy completed; "
          f"sessions resumed: {resumed}")
    if seconds > 20:
        assert resumed >= 1, mount.log_text()
    assert hashlib.sha256(on_server.read_bytes()).hexdigest() == want
    original.unlink()


@pytest.mark.timeout_seconds(180)
def test_a_blocked_setlkw_survives_a_ten_second_network_cut(namespaced_server, mount_factory, agent_factory):
    server, host_side = namespaced_server
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "f").write_bytes(b"x" * 100)
    holder, waiter = agent_factory("A"), agent_factory("B")
    fa, fb = holder.open(a.mountpoint / "f"), waiter.open(b.mountpoint / "f")
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 0)["ok"]
    waiter.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 0, "len": 0, "alarm": 0})
    assert waiter.silent_for(0.5)
    # The holder unlocks in the middle of the cut: its request waits for the link, then goes
    # through, and the blocked waiter is granted.
    unlocked = {}
    cutter = threading.Thread(target=cut, args=(host_side, CUT))
    cutter.start()
    time.sleep(CUT / 2)
    unlocked.update(holder.fcntl(fa, "F_SETLK", "unlock", 0, 0, timeout=120))
    cutter.join()
    assert unlocked["ok"], unlocked
    answer = waiter.answer(timeout=120)
    assert answer["ok"], answer
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 0)["errno"] == errno.errorcode[errno.EAGAIN]
