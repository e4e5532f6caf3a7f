"""Self-tests of the fixtures in conftest.py: `mount_factory`, the per-test registry and the
watchdog, proven on real FUSE mounts before the real client exists.

`pohmelfs mount` is replaced here by fakes/fake_mount.py (a few dozen lines of FUSE protocol
over /dev/fuse) through a wrapper that passes every other subcommand to the real binary. The
watchdog and leak checks are run in an inner pytest (pytester) so their failures can be asserted.
"""

import errno
import os
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

import harness

HERE = Path(__file__).resolve().parent
FAKE_MOUNT = HERE / "fakes" / "fake_mount.py"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None,
    reason="needs root, /dev/fuse and fusermount3 (make deps)")


def make_fake_bin(directory: Path, real_bin: Path) -> Path:
    wrapper = directory / "pohmelfs-with-fake-mount"
    wrapper.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        # `mount` goes to the fake FUSE client, everything else to the real binary.
        if [ "$1" = mount ]; then shift; exec {sys.executable} {FAKE_MOUNT} "$@"; fi
        exec {real_bin} "$@"
        """))
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture(scope="module")
def pohmelfs_bin(pohmelfs_bin, tmp_path_factory):
    """Overrides the session fixture for this module: the real binary with a fake `mount`."""
    return make_fake_bin(tmp_path_factory.mktemp("fakebin"), pohmelfs_bin)


# mount_factory, directly ------------------------------------------------------------------------


def test_mount_factory_mounts_a_fresh_mountpoint_and_unmounts_it(server, mount_factory, tmp_path):
    m = mount_factory(server)
    assert m.mountpoint == tmp_path / "mnt"
    assert harness.is_mounted(m.mountpoint) and os.path.ismount(m.mountpoint)
    assert m.source == f"127.0.0.1:{server.port}"
    assert m.proc.poll() is None
    assert m.device is not None
    assert os.listdir(m.mountpoint) == []
    assert m.notify.wait_for("READY=1", 0)
    status = m.unmount()
    assert status == 0, (status, m.log_text())
    assert not harness.is_mounted(m.mountpoint)
    assert m.unmount() == 0  # idempotent


def test_mount_factory_passes_subdir_and_options(server, mount_factory):
    m = mount_factory(server, options="ro,attr_timeout=2", subdir="/a/b/")
    assert m.source == f"127.0.0.1:{server.port}:/a/b"
    args = [str(a) for a in m.proc.args]
    assert args[1:] == ["mount", m.source, str(m.mountpoint), "-f", "-o", "ro,attr_timeout=2"]


def test_each_mount_gets_its_own_mountpoint_and_log(server, mount_factory, tmp_path):
    first, second = mount_factory(server), mount_factory(server)
    assert (first.mountpoint, second.mountpoint) == (tmp_path / "mnt", tmp_path / "mnt-2")
    assert first.log != second.log
    assert harness.is_mounted(first.mountpoint) and harness.is_mounted(second.mountpoint)


def test_mount_factory_refuses_a_busy_mountpoint(server, mount_factory):
    m = mount_factory(server)
    with pytest.raises(pytest.fail.Exception, match="already a mountpoint"):
        mount_factory(server, mountpoint=m.mountpoint)


def test_mount_factory_reports_a_client_that_fails(server, mount_factory, registry):
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="exited with status 3") as failure:
        mount_factory(server, options="fake_fail")
    assert "cannot reach" in str(failure.value)  # the client's own log is in the message
    assert time.monotonic() - started < 5
    assert all(p.poll() is not None for p in registry.processes if "mount" in map(str, p.args))


def test_mount_factory_times_out_without_ready_and_cleans_up(server, mount_factory, tmp_path):
    with pytest.raises(pytest.fail.Exception, match="did not send READY=1"):
        mount_factory(server, options="fake_no_ready", timeout=1.5)
    assert not harness.is_mounted(tmp_path / "mnt")


def test_teardown_clears_a_client_killed_with_sigkill(server, mount_factory):
    m = mount_factory(server)
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(timeout=5)
    with pytest.raises(OSError) as error:
        os.listdir(m.mountpoint)
    assert error.value.errno == errno.ENOTCONN
    m.unmount()  # what teardown does; must not hang
    assert not harness.is_mounted(m.mountpoint)


# The watchdog and the leak checks, in an inner pytest ----------------------------------------


@pytest.fixture
def inner(pytester, pohmelfs_bin, monkeypatch):
    """An inner pytest with this suite's conftest and harness and the fake-mount binary."""
    pytester.makeconftest((HERE / "conftest.py").read_text())
    pytester.makepyfile(harness=(HERE / "harness.py").read_text())
    pytester.makepyfile(ceph_cluster=(HERE / "ceph_cluster.py").read_text())
    pytester.makepyfile(background_deb=(HERE / "background_deb.py").read_text())
    monkeypatch.setenv("POHMELFS_BIN", str(pohmelfs_bin))
    monkeypatch.setenv("POHMELFS_WATCHDOG_GRACE", "2")

    def run(source):
        pytester.makepyfile(test_inner=textwrap.dedent(source))
        started = time.monotonic()
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
        return result, time.monotonic() - started

    return run


@pytest.mark.timeout_seconds(180)
def test_watchdog_unblocks_a_hung_fuse_call(inner):
    result, elapsed = inner("""
        import os, pytest

        @pytest.mark.timeout_seconds(3)
        def test_hangs(mount):
            os.stat(mount.mountpoint / "hang-forever")  # the fake never answers this LOOKUP
    """)
    output = result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=1, errors=1)
    # Requests the client had already read end with ECONNABORTED, the others with ENOTCONN.
    assert "ConnectionAbortedError" in output or "Transport endpoint is not connected" in output, output
    assert "watchdog: the test exceeded 3 s" in output, output
    assert "log of" in output  # the processes' logs are attached to the failure
    assert elapsed < 60, output
    assert not [p for p in harness.mounted_paths() if "test_hangs" in p]


@pytest.mark.timeout_seconds(180)
def test_watchdog_interrupts_a_test_stuck_outside_fuse(inner):
    result, elapsed = inner("""
        import time, pytest

        @pytest.mark.timeout_seconds(1)
        def test_sleeps(server):
            time.sleep(1000)
    """)
    output = result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=1, errors=1)
    assert "WatchdogTimeout" in output, output
    assert elapsed < 60, output


@pytest.mark.timeout_seconds(180)
def test_a_process_left_running_fails_the_test(inner):
    result, _ = inner("""
        def test_leaks(registry):
            registry.spawn(["sleep", "1000"])
    """)
    output = result.stdout.str()
    result.assert_outcomes(passed=1, errors=1)
    assert "outlived the test" in output, output


@pytest.mark.timeout_seconds(180)
def test_a_failing_test_shows_the_server_log(inner):
    result, _ = inner("""
        def test_fails(server):
            assert False, "on purpose"
    """)
    output = result.stdout.str()
    result.assert_outcomes(failed=1)
    assert "log of pohmelfs serve" in output and "listening" in output, output


@pytest.mark.timeout_seconds(180)
def test_a_missing_binary_is_an_error_not_a_skip(inner, monkeypatch):
    monkeypatch.setenv("POHMELFS_BIN", "/nonexistent/pohmelfs")
    result, _ = inner("""
        def test_needs_binary(server):
            pass
    """)
    result.assert_outcomes(errors=1)
    assert "pohmelfs binary not found" in result.stdout.str()
