"""`pohmelfs locks HOST:PORT`: the server's live lock table, as an aligned table, as JSON (the
schema documented in LockTableFormatter.swift), filtered with --path, refreshed with --watch."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

import pytest

from harness import free_port
from lock_agent import agent_factory  # noqa: F401  (a fixture)

COLUMNS = ["PATH", "RANGE", "MODE", "KIND", "STATE", "HOLDER", "PID", "AGE"]
JSON_FIELDS = {"path", "start", "end", "range", "mode", "kind", "state", "session", "client", "peer", "owner",
               "pid", "blockedBy", "ageSeconds"}


def parse_table(text: str) -> list[dict]:
    """Rows of the aligned table as dicts, cut at the header's column positions (so a row that
    is not aligned with the header comes out garbled and fails the checks)."""
    lines = text.rstrip("\n").split("\n")
    header = lines[0]
    assert header.split() == COLUMNS, header
    starts = [header.index(column) for column in COLUMNS]
    rows = []
    for line in lines[1:]:
        if line == "(no locks)" or line == "" or line.startswith("Every "):  # --watch's header
            continue
        cells = [line[start:end].strip() for start, end in zip(starts, starts[1:] + [len(line)])]
        rows.append(dict(zip(COLUMNS, cells)))
    return rows


def locks(run_pohmelfs, server, *args) -> subprocess.CompletedProcess:
    result = run_pohmelfs("locks", server.address, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result


def wait_for_waiter(run_pohmelfs, server, timeout=5) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        table = json.loads(locks(run_pohmelfs, server, "--json").stdout)["locks"]
        if any(lock["state"] == "waiting" for lock in table) or time.monotonic() > deadline:
            return table
        time.sleep(0.05)


@pytest.fixture
def scene(server_factory, mount_factory, agent_factory, run_pohmelfs):
    """A on mount A holds a write lock on bytes 0-9 of /inspected and an flock lock on
    /other/file; B on mount B waits (F_SETLKW) for a write lock on /inspected from 0 to EOF."""
    server = server_factory()
    a, b = mount_factory(server), mount_factory(server)
    (a.mountpoint / "inspected").write_bytes(b"x" * 100)
    (a.mountpoint / "other").mkdir()
    (a.mountpoint / "other" / "file").write_bytes(b"y")
    holder, waiter = agent_factory("A"), agent_factory("B")
    fa = holder.open(a.mountpoint / "inspected")
    assert holder.fcntl(fa, "F_SETLK", "write", 0, 10)["ok"]
    assert holder.flock(holder.open(a.mountpoint / "other" / "file"), "ex")["ok"]
    fb = waiter.open(b.mountpoint / "inspected")
    waiter.send({"op": "fcntl", "fd": fb, "cmd": "F_SETLKW", "type": "write", "start": 0, "len": 0})
    assert waiter.silent_for(0.3)
    table = wait_for_waiter(run_pohmelfs, server)
    assert any(lock["state"] == "waiting" for lock in table), table
    yield server, a, b, holder, waiter
    assert holder.fcntl(fa, "F_SETLK", "unlock", 0, 0)["ok"]
    assert waiter.answer(timeout=5)["ok"]


def test_json_shows_the_held_and_the_waiting_lock_with_their_holders(scene, run_pohmelfs):
    server, a, b, holder, waiter = scene
    document = json.loads(locks(run_pohmelfs, server, "--json").stdout)
    assert document["truncated"] is False
    table = document["locks"]
    for lock in table:
        assert set(lock) == JSON_FIELDS, lock
        assert isinstance(lock["session"], int) and isinstance(lock["ageSeconds"], float)
        assert isinstance(lock["owner"], str) and int(lock["owner"], 16) >= 0
    by_state = {(lock["path"], lock["state"]): lock for lock in table if lock["kind"] != "transaction"}
    assert set(by_state) == {("/inspected", "held"), ("/inspected", "waiting"), ("/other/file", "held")}, table

    held = by_state["/inspected", "held"]
    assert (held["start"], held["end"], held["range"], held["mode"], held["kind"], held["pid"]) == (
        0, 9, "0-9", "write", "posix", holder.pid)
    assert held["client"].endswith(":" + str(a.mountpoint)) and "127.0.0.1" in held["peer"], held
    assert held["blockedBy"] is None

    waiting = by_state["/inspected", "waiting"]
    assert (waiting["start"], waiting["end"], waiting["range"], waiting["mode"], waiting["kind"], waiting["pid"]) == (
        0, None, "0-EOF", "write", "posix", waiter.pid)
    assert waiting["client"].endswith(":" + str(b.mountpoint)), waiting
    assert waiting["session"] != held["session"]
    assert waiting["blockedBy"] == {"session": held["session"], "pid": holder.pid}

    flock = by_state["/other/file", "held"]
    assert (flock["range"], flock["end"], flock["mode"], flock["kind"], flock["pid"], flock["session"]) == (
        "0-EOF", None, "write", "flock", holder.pid, held["session"])

    time.sleep(0.5)
    later = {(l["path"], l["state"]): l for l in json.loads(locks(run_pohmelfs, server, "--json").stdout)["locks"]}
    assert later["/inspected", "held"]["ageSeconds"] >= held["ageSeconds"] + 0.4  # ages grow


def test_table_shows_the_held_and_the_waiting_lock_with_their_holders(scene, run_pohmelfs):
    server, a, b, holder, waiter = scene
    sessions = {l["state"]: l["session"] for l in json.loads(locks(run_pohmelfs, server, "--json", "--path",
                                                                   "/inspected").stdout)["locks"]}
    text = locks(run_pohmelfs, server).stdout
    print(text)
    rows = [row for row in parse_table(text) if row["KIND"] != "transaction"]
    assert [(row["PATH"], row["STATE"].split()[0]) for row in rows] == [
        ("/inspected", "held"), ("/inspected", "waiting"), ("/other/file", "held")], text
    held, waiting, flock = rows
    assert (held["RANGE"], held["MODE"], held["KIND"], held["STATE"], held["PID"]) == (
        "0-9", "write", "posix", "held", str(holder.pid))
    assert held["HOLDER"].startswith("#" + f"{sessions['held']:x}"[-6:] + " "), held
    assert str(a.mountpoint) in held["HOLDER"]
    assert "127.0.0.1" in held["HOLDER"]
    assert (waiting["RANGE"], waiting["MODE"], waiting["KIND"], waiting["PID"]) == (
        "0-EOF", "write", "posix", str(waiter.pid))
    assert waiting["STATE"] == "waiting #" + f"{sessions['held']:x}"[-6:], waiting
    assert waiting["HOLDER"].startswith("#" + f"{sessions['waiting']:x}"[-6:] + " ") and str(b.mountpoint) in waiting["HOLDER"]
    assert (flock["RANGE"], flock["KIND"], flock["PID"]) == ("0-EOF", "flock", str(holder.pid))
    for row in rows:
        assert row["AGE"].endswith("s") and float(row["AGE"][:-1]) >= 0, row


def test_path_filters_by_prefix(scene, run_pohmelfs):
    server, *_ = scene
    only = json.loads(locks(run_pohmelfs, server, "--json", "--path", "/inspected").stdout)["locks"]
    assert {l["path"] for l in only} == {"/inspected"} and len(only) >= 2, only
    relative = json.loads(locks(run_pohmelfs, server, "--json", "--path", "inspected").stdout)["locks"]
    assert {l["path"] for l in relative} == {"/inspected"}  # relative to the export either way
    directory = parse_table(locks(run_pohmelfs, server, "--path", "/other").stdout)
    assert [(r["PATH"], r["KIND"]) for r in directory] == [("/other/file", "flock")], directory
    nothing = locks(run_pohmelfs, server, "--path", "/nothing").stdout
    assert "(no locks)" in nothing and parse_table(nothing) == []
    assert json.loads(locks(run_pohmelfs, server, "--json", "--path", "/nothing").stdout) == {
        "locks": [], "truncated": False}


def read_until(proc, predicate, timeout: float, buffer: list[str]) -> bool:
    """Reads `proc`'s stdout into `buffer` (one string) until `predicate(text)` holds."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while not predicate(buffer[0]):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            return predicate(buffer[0])
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return predicate(buffer[0])
            buffer[0] += chunk.decode()
    return True


def test_watch_refreshes(server_factory, mount_factory, agent_factory, registry, pohmelfs_bin):
    server = server_factory()
    a = mount_factory(server)
    (a.mountpoint / "watched").write_bytes(b"z" * 10)
    proc = registry.spawn([pohmelfs_bin, "locks", server.address, "--watch", "--interval", "0.3",
                           "--path", "/watched"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = [""]
    try:
        assert read_until(proc, lambda t: t.count("PATH") >= 2, 10, output), output[0]
        first_tables = output[0].split("PATH")[1:]
        assert all("(no locks)" in table for table in first_tables), output[0]
        holder = agent_factory("A")
        assert holder.fcntl(holder.open(a.mountpoint / "watched"), "F_SETLK", "read", 2, 3)["ok"]
        assert read_until(proc, lambda t: "/watched" in t, 10, output), output[0]  # a later refresh shows it
        assert proc.poll() is None, "--watch exited on its own"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    tables = output[0].split("PATH")[1:]
    print(f"--watch printed {len(tables)} tables")
    assert len(tables) >= 3
    assert "\x1b[" not in output[0], "cleared the screen although stdout is not a terminal"
    locked = [parse_table("PATH" + table) for table in tables if "/watched" in table]
    rows = [(r["RANGE"], r["MODE"], r["KIND"], r["PID"]) for r in locked[0]]
    assert rows == [("2-4", "read", "posix", str(holder.pid))], output[0]


def test_unreachable_server_is_a_one_line_error(run_pohmelfs):
    began = time.monotonic()
    result = run_pohmelfs("locks", f"127.0.0.1:{free_port()}", timeout=20)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("pohmelfs locks: "), result.stderr
    assert time.monotonic() - began < 10
    bad = run_pohmelfs("locks", "not a server:99999")
    assert bad.returncode != 0 and bad.stdout == "" and "HOST[:PORT]" in bad.stderr, bad.stderr
