"""Holders being broken are holders until they answer (ConsistencyContract "Leases on names and
attributes"): a change of an object that runs while an earlier break round on the same object is
still under way waits for the sessions that round waits for. Without it, the second change found
nobody holding a lease (the first round had already ended the leases), was acknowledged at once,
and mount B's kernel, which had not yet heard the first break, answered `stat` with the state
from before both changes.

The server is started with `--test-delay-lease-break MS` (test-only): every LEASE_BREAK that a
change waits for leaves the server that much later, as over a slow link, and the server logs a
line when it holds one back. The tests wait for that line before the second change, so the two
changes overlap by construction, not by luck of scheduling. The delay is also how long the first
round takes; the bound asserted on the second change (a few times the delay, well within the 5 s
give-up) says it waited for that round's holders, not for the give-up."""

import os
import threading
import time

import pytest


TIMEOUT = 60
DELAY_MS = 400
HELD_BACK = "test: lease break held back"
# A change that waits for a delayed break finishes after about DELAY_MS; one that hit the 5 s
# give-up (a wait cycle) would not finish within this.
BOUND = 2.0


def held_back(server) -> int:
    return server.log_text().count(HELD_BACK)


def wait_for_held_back(server, count: int, seconds: float = 10.0) -> None:
    """Waits until the server has held back its `count`th LEASE_BREAK: a round is under way."""
    deadline = time.monotonic() + seconds
    while held_back(server) < count:
        assert time.monotonic() < deadline, "the server never sent the expected lease break"
        time.sleep(0.01)


def delayed_server(server_factory):
    return server_factory(args=["--test-delay-lease-break", str(DELAY_MS)])


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_chmod_beside_a_write_grants_break_round_is_seen_on_b(server_factory, mount_factory):
    """The writer's own two changes: opening the file for writing asks for the write-back grant,
    whose round breaks B's lease on the attributes; a chmod runs beside it (it does not wait for
    the grant). Once the chmod returns, B must show the new mode."""
    server = delayed_server(server_factory)
    a, b = mount_factory(server), mount_factory(server)
    path_a, path_b = a.mountpoint / "f", b.mountpoint / "f"
    path_a.write_bytes(b"0123456789")
    for round in range(3):
        mode = 0o640 + round
        os.stat(path_b)  # B's kernel caches the attributes under a lease
        count = held_back(server)
        with open(path_a, "r+b"):
            wait_for_held_back(server, count + 1)  # the grant's round is under way
            started = time.monotonic()
            os.chmod(path_a, mode)
            elapsed = time.monotonic() - started
            assert oct(os.stat(path_b).st_mode & 0o777) == oct(mode), f"round {round}: B showed the old mode"
        assert elapsed < BOUND, f"the chmod took {elapsed:.2f} s: it waited for the give-up"
    assert "did not answer" not in server.log_text()


@pytest.mark.timeout_seconds(TIMEOUT)
def test_a_change_during_another_mounts_break_round_is_seen_on_b(server_factory, mount_factory):
    """Two writers: C's chmod is waiting for B's answer to its break when A's chmod of the same
    file runs. Once A's returns, B must show A's mode (the last applied), never the one from
    before both. C mounts with `leases=off` so that it holds no lease itself: A's chmod would
    otherwise wait for C, and B would have answered meanwhile."""
    server = delayed_server(server_factory)
    (server.export / "f").write_bytes(b"x")  # no mount holds a grant on it or wrote it
    a, b, c = mount_factory(server), mount_factory(server), mount_factory(server, options="leases=off")
    for round in range(3):
        mode_c, mode_a = 0o600 + round, 0o700 + round
        os.stat(b.mountpoint / "f")  # B's kernel caches the attributes under a lease
        count = held_back(server)
        errors = []

        def chmod_on_c():
            try:
                os.chmod(c.mountpoint / "f", mode_c)
            except OSError as error:
                errors.append(error)

        first = threading.Thread(target=chmod_on_c)
        first.start()
        try:
            wait_for_held_back(server, count + 1)  # C's round is under way
            started = time.monotonic()
            os.chmod(a.mountpoint / "f", mode_a)
            elapsed = time.monotonic() - started
            assert oct(os.stat(b.mountpoint / "f").st_mode & 0o777) == oct(mode_a), (
                f"round {round}: B showed the mode from before A's acknowledged chmod")
        finally:
            first.join(TIMEOUT)
        assert not errors
        assert elapsed < BOUND, f"A's chmod took {elapsed:.2f} s: it waited for the give-up"
    assert "did not answer" not in server.log_text()
