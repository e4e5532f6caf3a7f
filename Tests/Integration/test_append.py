"""O_APPEND is atomic across clients (ConsistencyContract, "Appends").

Three processes on three mounts of one server each open one file with O_WRONLY|O_APPEND and
write self-checking records of 100 to 8,000 bytes, one write(2) per record. Every record must
come out whole and contiguous, the file must hold every record of every writer, and its size
must be the sum of what the writers wrote: in every cache mode, with write-back on and off.
"""

from __future__ import annotations

import os

import pytest

from append_writer import assert_appends_land_whole

WRITERS = 3
# Per writer; POHMELFS_APPEND_RECORDS=10000 gives the 30,000 records per mode.
RECORDS = int(os.environ.get("POHMELFS_APPEND_RECORDS", "1500"))


@pytest.mark.timeout_seconds(150 + RECORDS // 20)
@pytest.mark.parametrize("options", ["", "writeback=off", "cache=none"], ids=["strict", "strict-writeback-off", "none"])
def test_appends_from_three_mounts_land_whole(server, mount_factory, registry, tmp_path, options):
    mounts = [mount_factory(server, options) for _ in range(WRITERS)]
    (mounts[0].mountpoint / "log").write_bytes(b"")
    written = assert_appends_land_whole(
        [m.mountpoint for m in mounts], RECORDS, registry, tmp_path, timeout=120 + RECORDS // 20)
    assert (server.export / "log").stat().st_size == written
