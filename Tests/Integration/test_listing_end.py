"""Listing a small directory costs one round trip (ConsistencyContract "The first batch of a
listing", "The end of a listing"): the directory is opened and its first batch read together
(OPENDIR_LIST), the kernel's first READDIR is answered from that batch, and its READDIR after the
last entry is answered "no more" by the client, since the server said there was none. Before,
it took three: OPENDIR, READDIR, READDIR. A name created on another mount afterwards is still
seen by the next listing."""

import os

import pytest

from test_leases import moved, opcode_counts

TIMEOUT = 60


LISTING = ("OPENDIR", "OPENDIR_LIST", "READDIR")


def listing_requests_during(server, action):
    """The requests that open and read directories sent during `action`, and its result."""
    before = opcode_counts(server)
    result = action()
    sent = moved(before, opcode_counts(server))
    return {k: v for k, v in sent.items() if k in LISTING}, result


@pytest.mark.timeout_seconds(TIMEOUT)
@pytest.mark.parametrize("options", ["", "leases=off"])
def test_a_listing_costs_one_round_trip_and_still_shows_a_name_made_elsewhere(metrics_server, mount_factory, options):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server, options)
    names = {f"f{i}" for i in range(20)}
    for directory in ("d0", "d1", "d2"):
        os.mkdir(a.mountpoint / directory)
        for name in names:
            (a.mountpoint / directory / name).write_bytes(b"x")
    for directory in ("d0", "d1", "d2"):
        sent, listed = listing_requests_during(metrics_server, lambda: set(os.listdir(b.mountpoint / directory)))
        assert listed == names, listed
        assert sum(sent.values()) == 1, f"listing {directory} on B sent {sent}"
    (a.mountpoint / "d1" / "late").write_bytes(b"y")
    sent, listed = listing_requests_during(metrics_server, lambda: set(os.listdir(b.mountpoint / "d1")))
    assert listed == names | {"late"}, listed
    assert sum(sent.values()) == 1, f"listing d1 again on B sent {sent}"


@pytest.mark.timeout_seconds(TIMEOUT)
@pytest.mark.parametrize("options", ["", "leases=off"])
def test_a_directory_opened_before_a_change_elsewhere_lists_the_change(metrics_server, mount_factory, options):
    """The batch read with the open is not the answer once a break came (with leases) or once it
    is older than the attribute timeout (without): the change made meanwhile is listed."""
    a, b = mount_factory(metrics_server), mount_factory(metrics_server, options)
    os.mkdir(a.mountpoint / "d")
    (a.mountpoint / "d" / "early").write_bytes(b"x")
    fd = os.open(b.mountpoint / "d", os.O_RDONLY | os.O_DIRECTORY)
    try:
        (a.mountpoint / "d" / "late").write_bytes(b"y")
        if options == "leases=off":
            import time
            time.sleep(1.2)  # past the 1 s attribute timeout: without leases nothing else tells B
        assert set(os.listdir(fd)) == {"early", "late"}
    finally:
        os.close(fd)
