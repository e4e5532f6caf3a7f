"""Fixtures for the pohmelfs integration suite (real processes, real sockets, real mounts).

Contract, relied on by every test file here (details in each fixture's docstring):

- `pohmelfs_bin`: path of the binary under test: $POHMELFS_BIN, else `.build/debug/pohmelfs`.
- `free_port()`: a free TCP port on 127.0.0.1 (also `from harness import free_port`).
- `registry`: autouse. Every process a test starts goes through `registry.spawn()` / `registry.run()`;
  every mount goes through `mount_factory`. Teardown fails the test if any of them outlived it.
  A watchdog (default 120 s, `@pytest.mark.timeout_seconds(N)`) lazily unmounts the test's mounts
  and SIGKILLs its processes, so a hung FUSE call returns (ENOTCONN, or ECONNABORTED for a
  request the client had already read) and only that test fails; a test still stuck 15 s later
  gets WatchdogTimeout raised in its thread.
- `server_factory(...)` / `server`: a `pohmelfs serve` on 127.0.0.1:<free port>, ready (READY=1).
- `mount_factory(server, options="", subdir="")` / `mount`: a `pohmelfs mount -f`, ready (READY=1
  after FUSE INIT, and mounted), always unmounted and stopped at teardown. Options in
  $POHMELFS_TEST_MOUNT_OPTIONS are added to every mount's (the test's own win).
- `tmpfs_factory(name, size)`: a tmpfs mounted at `<tmp>/name`, unmounted at teardown (skips
  where none can be mounted).
- `ceph_cluster`: session-scoped single-node Ceph (packaging/ceph-cluster.sh), always stopped at
  the end of the session; where Ceph cannot start, every test using it is SKIPPED with the reason
  printed. `server_factory(cephfs=ceph_cluster)` serves a fresh CephFS directory, and
  `serve_on_store(request, ...)` gives a test module a `server` parametrized over STORES.
- Logs of every process started with a log file are attached to the report of a failing test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import harness
import background_deb
from background_deb import BackgroundDeb
from ceph_cluster import CephCluster, CephUnavailable
from harness import MountHandle, NotifyListener, Registry, ServerHandle

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_KEY = pytest.StashKey[Registry]()
BACKGROUND_DEB_KEY = pytest.StashKey[BackgroundDeb]()


def pytest_configure(config):
    # Also in pytest.ini; repeated here so a copy of this conftest works on its own (the harness
    # self-tests run it in a scratch directory).
    config.addinivalue_line(
        "markers", "timeout_seconds(n): per-test watchdog limit in seconds (default 120)")
    # `timeout` (the Makefile's whole-suite limit) sends SIGTERM: make it an interrupt, so pytest
    # still runs the fixtures' teardown and leaves no mount or server behind.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


def _interrupt_on_sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM: the suite's time limit or a user stopped the run")


def _needs_the_package(item) -> bool:
    return bool(background_deb.FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(session, config, items):
    """Tests that need `make deb`'s package run last, so its background build has the whole
    run to finish (background_deb.py)."""
    items.sort(key=_needs_the_package)


def pytest_collection_finish(session):
    """Starts `make deb` in the background when a collected test needs the package."""
    if not session.config.option.collectonly and any(map(_needs_the_package, session.items)):
        session.config.stash[BACKGROUND_DEB_KEY] = BackgroundDeb()


def pytest_unconfigure(config):
    build = config.stash.get(BACKGROUND_DEB_KEY, None)
    if build is not None:
        build.remove()


@pytest.fixture(scope="session")
def deb_build(request) -> BackgroundDeb:
    """The `make deb` started at collection (background_deb.py)."""
    build = request.config.stash.get(BACKGROUND_DEB_KEY, None)
    if build is None:
        pytest.fail("no background make deb was started for this session", pytrace=False)
    return build


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the logs of the processes the test started to the report when it failed."""
    outcome = yield
    report = outcome.get_result()
    registry = item.stash.get(REGISTRY_KEY, None)
    if report.failed and registry is not None and not getattr(item, "_pohmelfs_logs_shown", False):
        item._pohmelfs_logs_shown = True
        seen = set()
        for label, path in registry.logs:
            if path in seen:
                continue
            seen.add(path)
            report.sections.append((f"log of {label} ({path})", harness.read_log(path)))


# Basic inputs ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pohmelfs_bin() -> Path:
    """The binary under test: $POHMELFS_BIN, else `.build/debug/pohmelfs` in the checkout.
    A missing binary is an error for every test that needs it, never a silent skip."""
    path = Path(os.environ.get("POHMELFS_BIN") or REPO_ROOT / ".build" / "debug" / "pohmelfs")
    if not os.access(path, os.X_OK):
        pytest.fail(f"pohmelfs binary not found at {path}: run `make build` or set POHMELFS_BIN", pytrace=False)
    return path


@pytest.fixture
def free_port():
    """`free_port()` -> an unused TCP port on 127.0.0.1."""
    return harness.free_port


@pytest.fixture(autouse=True)
def registry(request, tmp_path) -> Registry:
    """Per-test registry of processes and mounts, and the watchdog.

    Autouse, so it is set up before and torn down after every other function-scoped fixture:
    its teardown sees what the others left behind. The watchdog covers setup, call and teardown.
    """
    marker = request.node.get_closest_marker("timeout_seconds")
    timeout = float(marker.args[0]) if marker else harness.DEFAULT_TEST_TIMEOUT
    reg = Registry(name=request.node.nodeid, timeout=timeout, tmp=tmp_path)
    request.node.stash[REGISTRY_KEY] = reg
    reg.start_watchdog()
    try:
        yield reg
        problems = reg.leftovers()
    finally:
        reg.stop_watchdog()
    if reg.fired.is_set():
        pytest.fail(f"watchdog: the test exceeded {timeout:g} s; its mounts were detached and its "
                    f"processes killed", pytrace=False)
    if problems:
        pytest.fail("left behind by the test: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def tmpfs_factory(tmp_path, registry):
    """`tmpfs_factory(name, size)` mounts a tmpfs of `size` (e.g. "16M") at `<tmp>/name` and returns
    that path; skips the test where no tmpfs can be mounted. Every one is unmounted at teardown,
    whatever happened."""
    mounted = []

    def make(name: str, size: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        result = registry.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], timeout=10)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(path)
        return path

    try:
        yield make
    finally:
        for path in reversed(mounted):
            registry.run(["umount", "-l", str(path)], timeout=10)


# The server ------------------------------------------------------------------------------------


@pytest.fixture
def server_factory(registry, pohmelfs_bin, tmp_path):
    """`server_factory(export=None, state_dir=None, port=None, args=(), env=None)` starts a
    `pohmelfs serve` and returns a `ServerHandle` once it has sent READY=1 (10 s at most).

    Defaults: export `<tmp>/export` (created), state `<tmp>/state`, listen 127.0.0.1:<free port>
    (retried on another port if that one was taken meanwhile), log `<tmp>/serve.log`; further
    servers in the same test get `-2`, `-3`, ... suffixes. Pass `export`/`state_dir`/`port` of an
    earlier server to restart it in place. The handle has `.address` ("127.0.0.1:PORT"), `.host`,
    `.port`, `.export`, `.state_dir`, `.proc`, `.log`, `.notify` (every sd_notify line), `.stop()`.

    Teardown: SIGTERM, wait 10 s, SIGKILL; fails the test if the server needed the SIGKILL or
    exited non-zero after SIGTERM (unless the watchdog fired).
    """
    servers: list[ServerHandle] = []

    def start(export=None, state_dir=None, port=None, args=(), env=None, cephfs=None,
              cephfs_export=None) -> ServerHandle:
        suffix = "" if not servers else f"-{len(servers) + 1}"
        state_dir = Path(state_dir) if state_dir is not None else tmp_path / f"state{suffix}"
        if cephfs is not None:
            # --store cephfs: a fresh directory of the CephFS unless `cephfs_export` names one (a
            # restart); `.export` is a placeholder until `serve_on_store` mounts a view of it.
            cephfs_export = cephfs_export or cephfs.fresh_export()
            export = Path(export) if export is not None else tmp_path / f"cephfs-view{suffix}"
            export_args = cephfs.serve_args(cephfs_export)
        else:
            export = Path(export) if export is not None else tmp_path / f"export{suffix}"
            export.mkdir(parents=True, exist_ok=True)
            export_args = ["--export", export]
        log = tmp_path / f"serve{suffix}.log"
        for attempt in range(3):
            listen_port = port or harness.free_port()
            notify = NotifyListener()
            proc = registry.spawn(
                [pohmelfs_bin, "serve", *export_args, "--listen", f"127.0.0.1:{listen_port}",
                 "--state-dir", state_dir, *args],
                log=log, label="pohmelfs serve", env=notify.env(env))
            handle = ServerHandle(address=f"127.0.0.1:{listen_port}", host="127.0.0.1", port=listen_port,
                                  export=export, state_dir=state_dir, proc=proc, log=log, notify=notify,
                                  cephfs_export=cephfs_export)
            servers.append(handle)
            if notify.wait_for("READY=1", harness.READY_TIMEOUT, proc=proc):
                return handle
            status = harness.stop_process(proc)
            text = harness.read_log(log)
            if port is None and "in use" in text and attempt < 2:
                continue  # lost the race for the free port; try another
            pytest.fail(f"pohmelfs serve did not become ready within {harness.READY_TIMEOUT:g} s "
                        f"(exit status {status}); its log:\n{text}", pytrace=False)
        raise AssertionError("unreachable")

    yield start

    problems = []
    for handle in reversed(servers):
        status = handle.stop()
        handle.notify.close()
        if registry.fired.is_set() or handle.crashed:
            continue
        if status is None:
            problems.append(f"pohmelfs serve on {handle.address} ignored SIGTERM for {harness.STOP_TIMEOUT:g} s")
        elif status != 0 and handle.notify.wait_for("READY=1", 0):
            problems.append(f"pohmelfs serve on {handle.address} exited with status {status} after SIGTERM")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def server(server_factory) -> ServerHandle:
    """One ready `pohmelfs serve` on a fresh export (see `server_factory`)."""
    return server_factory()


# The CephFS store ------------------------------------------------------------------------------

# The stores a module parametrizes its `server` over (`serve_on_store`).
STORES = ["local", "cephfs"]

# Where the CephFS store cannot answer as a local filesystem does, and why: these tests are
# expected to fail on it (strict xfail: one that starts passing must be taken off this list).
KNOWN_CEPHFS_DIFFERENCES = {
    "test_rename_noreplace": "libcephfs 16.2 has no renameat2: RENAME_NOREPLACE is EINVAL",
    "test_rename_exchange": "libcephfs 16.2 has no renameat2: RENAME_EXCHANGE is EINVAL",
    "test_rename_whiteout_works_or_fails_as_locally": "libcephfs 16.2 has no renameat2: RENAME_WHITEOUT is EINVAL",
    "test_utimensat_keeps_nanoseconds": "CephFS keeps timestamps as unsigned 32-bit seconds: no times before 1970",
    "test_sparse_file_larger_than_4_gib": "CephFS reports st_blocks from the size, not from what is allocated",
    "test_fallocate_modes": "CephFS reports st_blocks from the size: KEEP_SIZE allocation and punched holes do "
                            "not show in st_blocks (the bytes do match; test_posix_corners compares the modes)",
}


@pytest.fixture(scope="session")
def ceph_cluster(tmp_path_factory):
    """A single-node Ceph (one mon, one memstore OSD, one MDS, CephFS `cephfs`, user
    client.pohmelfs) under a session temp dir, started once by packaging/ceph-cluster.sh and
    ALWAYS stopped (daemons SIGKILLed by PID file) when the session ends. Where Ceph cannot
    start, the tests that use it are skipped and the reason is printed, never silently."""
    directory = tmp_path_factory.mktemp("ceph")
    try:
        cluster = CephCluster.start(directory)
    except (CephUnavailable, subprocess.TimeoutExpired) as e:
        print(f"\nSKIPPING the CephFS store tests: Ceph cannot start here: {e}", file=sys.__stderr__, flush=True)
        pytest.skip(f"Ceph cannot start here: {e}")
    try:
        yield cluster
    finally:
        cluster.stop()


def serve_on_store(request, server_factory, mount_factory) -> ServerHandle:
    """For a module's `server` fixture parametrized over STORES: a server on a fresh export of
    the store `request.param`. For "cephfs" the server exports a fresh CephFS directory and
    `.export` is a second mount of the same server (made when first used), so the tests'
    server-side checks see the CephFS through that server (there is no local path to it)."""
    if request.param == "local":
        return server_factory()
    reason = KNOWN_CEPHFS_DIFFERENCES.get(request.node.originalname)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=f"CephFS store: {reason}", strict=True))
    cluster = request.getfixturevalue("ceph_cluster")
    handle = server_factory(cephfs=cluster)
    handle.__class__ = CephServerHandle
    handle.make_view = mount_factory
    return handle


class CephServerHandle(ServerHandle):
    """A `--store cephfs` server whose `.export` is a second mount of it, made on first use (most
    tests never look at the server's side, and a mount costs time)."""

    view = None
    make_view = None
    placeholder = None

    @property
    def export(self) -> Path:
        if self.view is None:
            if self.make_view is None or self.proc.poll() is not None:
                return self.placeholder  # not ready, or already stopped: nothing to mount
            self.view = self.make_view(self).mountpoint
        return self.view

    @export.setter
    def export(self, value) -> None:
        self.placeholder = value  # server_factory's (a path that does not exist)

    def __repr__(self) -> str:  # the dataclass's would read `.export`, and mount
        return f"CephServerHandle(address={self.address!r}, cephfs_export={self.cephfs_export!r}, view={self.view!r})"


# The mount -------------------------------------------------------------------------------------


@pytest.fixture
def mount_factory(registry, server_factory, pohmelfs_bin, tmp_path):
    """`mount_factory(server, options="", subdir="", *, mountpoint=None, args=(), env=None,
    timeout=10)` mounts `server` and returns a `MountHandle` once the client is ready.

    - Mountpoint: a FRESH directory `<tmp>/mnt`, `<tmp>/mnt-2`, ... unless `mountpoint` is given
      (it must exist); either way it refuses to start if the directory is already a mountpoint.
    - Runs `pohmelfs mount 127.0.0.1:<port>[:/<subdir>] <mountpoint> -f [-o <options>] [args...]`
      with NOTIFY_SOCKET set, stdin /dev/null, output to `<tmp>/mount[-N].log`.
    - Ready means: the client sent READY=1 (after FUSE INIT) and the mountpoint appears in
      /proc/self/mountinfo and `os.path.ismount()` holds, all within `timeout` seconds. Otherwise
      the test fails with the client's log, after the teardown sequence below.
    - Teardown (also `handle.unmount()`, idempotent), ALWAYS, newest mount first:
      `fusermount3 -u -z <mnt>` (errors ignored), SIGTERM the client, wait 10 s, SIGKILL, then
      assert the mountpoint is no longer mounted.

    The handle has `.mountpoint` (Path), `.source`, `.server`, `.proc`, `.log`, `.notify`,
    `.status` (exit status after unmount), `.unmount()`. Depends on `server_factory`, so mounts are
    always torn down before the servers they use.
    """
    mounts: list[MountHandle] = []

    def mount(server: ServerHandle, options: str = "", subdir: str = "", *, mountpoint=None, args=(),
              env=None, timeout: float = harness.READY_TIMEOUT) -> MountHandle:
        suffix = "" if not mounts else f"-{len(mounts) + 1}"
        if mountpoint is None:
            mountpoint = tmp_path / f"mnt{suffix}"
            mountpoint.mkdir()
        mountpoint = Path(os.path.abspath(mountpoint))
        if harness.is_mounted(mountpoint):
            pytest.fail(f"refusing to mount on {mountpoint}: it is already a mountpoint", pytrace=False)
        source = server.address + (":/" + subdir.strip("/") if subdir.strip("/") else "")
        command = [pohmelfs_bin, "mount", source, mountpoint, "-f"]
        # $POHMELFS_TEST_MOUNT_OPTIONS (e.g. delegation=on) goes before the test's own options,
        # which win where both name one: the whole suite run under an option that is off by default.
        options = ",".join(part for part in (os.environ.get("POHMELFS_TEST_MOUNT_OPTIONS", ""), options) if part)
        if options:
            command += ["-o", options]
        command += list(args)
        log = tmp_path / f"mount{suffix}.log"
        notify = NotifyListener()
        deadline = time.monotonic() + timeout
        proc = registry.spawn(command, log=log, label="pohmelfs mount", env=notify.env(env))
        handle = MountHandle(mountpoint=mountpoint, source=source, server=server, proc=proc, log=log, notify=notify)
        mounts.append(handle)
        registry.mounts.append(handle)

        problem = None
        if not notify.wait_for("READY=1", timeout, proc=proc):
            problem = "did not send READY=1" if proc.poll() is None else f"exited with status {proc.returncode}"
        else:
            while not harness.is_mounted(mountpoint) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            if not harness.is_mounted(mountpoint):
                problem = "sent READY=1 but the mountpoint never appeared in /proc/self/mountinfo"
            elif not os.path.ismount(mountpoint):
                problem = "is listed in mountinfo but os.path.ismount() is false"
            else:
                handle.device = os.stat(mountpoint).st_dev
        if problem:
            try:
                handle.unmount()
            except AssertionError as e:
                problem += f"; then: {e}"
            pytest.fail(f"pohmelfs mount {source} {mountpoint} {problem} (within {timeout:g} s); "
                        f"its log:\n{handle.log_text()}", pytrace=False)
        return handle

    yield mount

    problems = []
    for handle in reversed(mounts):
        try:
            handle.unmount()
        except AssertionError as e:
            problems.append(str(e))
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def mount(mount_factory, server) -> MountHandle:
    """`server`, mounted with default options (see `mount_factory`)."""
    return mount_factory(server)


@pytest.fixture
def run_pohmelfs(registry, pohmelfs_bin):
    """`run_pohmelfs(*args, timeout=30, env=None)` -> CompletedProcess (text stdout/stderr)."""

    def run(*args, timeout: float = 30, env=None) -> subprocess.CompletedProcess:
        return registry.run([pohmelfs_bin, *args], timeout=timeout, env=env)

    return run


@pytest.fixture
def metrics_server(server_factory):
    """A server with --metrics on a free loopback port; `.metrics` is its HOST:PORT."""
    address = f"127.0.0.1:{harness.free_port()}"
    handle = server_factory(args=["--metrics", address])
    handle.metrics = address
    return handle
