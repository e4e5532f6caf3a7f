"""The end of a listing (ConsistencyContract "The end of a listing"): once a READDIR passed on the
last entry the server listed, the kernel's next READDIR of that open is answered "no more" by
the client, so listing a small directory costs one READDIR, not two; a name created on another
mount afterwards is still seen by the next listing."""

import os

import pytest

from test_leases import moved, opcode_counts

TIMEOUT = 60


def readdirs_during(server, action) -> int:
    before = opcode_counts(server)
    result = action()
    return moved(before, opcode_counts(server)).get("READDIR", 0), result


@pytest.mark.timeout_seconds(TIMEOUT)
@pytest.mark.parametrize("options", ["", "leases=off"])
def test_a_listing_costs_one_readdir_and_still_shows_a_name_made_elsewhere(metrics_server, mount_factory, options):
    a, b = mount_factory(metrics_server), mount_factory(metrics_server, options)
    names = {f"f{i}" for i in range(20)}
    for directory in ("d0", "d1", "d2"):
        os.mkdir(a.mountpoint / directory)
        for name in names:
            (a.mountpoint / directory / name).write_bytes(b"x")
    for directory in ("d0", "d1", "d2"):
        count, listed = readdirs_during(metrics_server, lambda: set(os.listdir(b.mountpoint / directory)))
        assert listed == names, listed
        assert count == 1, f"listing {directory} on B sent {count} READDIRs"
    (a.mountpoint / "d1" / "late").write_bytes(b"y")
    count, listed = readdirs_during(metrics_server, lambda: set(os.listdir(b.mountpoint / "d1")))
    assert listed == names | {"late"}, listed
    assert count == 1, f"listing d1 again on B sent {count} READDIRs"
