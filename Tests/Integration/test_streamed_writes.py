"""Streamed writes (`WritebackBuffer+Stream`, ConsistencyContract "Write-back"): under the
write-back grant, a write of a whole transaction (1 MiB, what a streaming copy sends) is sent at
once and answered before the server has it, so several are in flight. Another mount that opens
the file must still see every byte, in the order written (the open recalls the grant, and the
holder writes back after its streams); a small buffered write over a streamed range lands after
it. The mount's status counts the streamed writes ("writes streamed"): 0 without streaming, so
the test fails there."""

from __future__ import annotations

import json
import os

import pytest

MIB = 1 << 20


def streamed_writes(run_pohmelfs, mountpoint) -> int:
    result = run_pohmelfs("status", mountpoint, "--json", timeout=10)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["writeback"].get("streamedWrites", 0)


@pytest.mark.timeout_seconds(120)
def test_streamed_writes_are_seen_whole_and_in_order_by_another_mount(server, mount_factory, run_pohmelfs):
    a, b = mount_factory(server), mount_factory(server)
    for round_number in range(3):
        name = f"streamed-{round_number}"
        expected = bytearray(os.urandom(24 * MIB))
        fd = os.open(a.mountpoint / name, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            for offset in range(0, len(expected), MIB):
                assert os.pwrite(fd, expected[offset:offset + MIB], offset) == MIB
            # Over a range that may still be in flight: buffered, and must land after it.
            patch = os.urandom(4096)
            os.pwrite(fd, patch, 23 * MIB + 100)
            expected[23 * MIB + 100:23 * MIB + 100 + len(patch)] = patch
            # Another mount opens the file while A still has it open, unsynced.
            with open(b.mountpoint / name, "rb") as f:
                seen = f.read()
            assert len(seen) == len(expected), f"round {round_number}: B sees {len(seen)} bytes"
            assert seen == expected, f"round {round_number}: B sees other bytes than A wrote"
        finally:
            os.close(fd)
        assert (server.export / name).read_bytes() == expected
    assert streamed_writes(run_pohmelfs, a.mountpoint) >= 24, "no write was streamed"
    assert streamed_writes(run_pohmelfs, b.mountpoint) == 0
