"""The man pages: current with the binary, valid mdoc."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import harness

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
UNITS = ["pohmelfs-server.service", "pohmelfs-mount@.service"]
MAN_PAGES = ["pohmelfs.1", "pohmelfs-serve.1", "pohmelfs-mount.1", "pohmelfs-locks.1", "pohmelfs-bench.1"]
COMPLETIONS = {
    "share/bash-completion/completions/pohmelfs": "pohmelfs.bash",
    "share/zsh/site-functions/_pohmelfs": "_pohmelfs",
    "share/fish/vendor_completions.d/pohmelfs.fish": "pohmelfs.fish",
}
#: `make deb` includes a release build: minutes on a fresh checkout.
DEB_TIMEOUT = 900


def run(args, *, timeout=120, env=None, cwd=REPO) -> subprocess.CompletedProcess:
    """Runs a command in its own process group, killing the whole group on timeout (make and
    swift start children), and returns its text output."""
    proc = subprocess.Popen([str(a) for a in args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{args} did not finish within {timeout} s; stderr: {err[-4000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def make(*targets_and_variables, timeout=120) -> subprocess.CompletedProcess:
    result = run(["make", "--no-print-directory", *targets_and_variables], timeout=timeout)
    assert result.returncode == 0, f"make {' '.join(map(str, targets_and_variables))} failed:\n{result.stderr[-6000:]}"
    return result


def verify_units(unit_dir: Path, man_dir: Path, tmp_path: Path, exec_rewrite: tuple[str, str] | None = None):
    """`systemd-analyze verify` on the units in `unit_dir`, the template through an instance
    (pohmelfs-mount@mnt-share.service), man pages looked up in `man_dir`. Every complaint
    fails, warnings included (an unknown key is only a warning, exit status 0)."""
    work = tmp_path / "verify"
    work.mkdir()
    for unit in UNITS:
        text = (unit_dir / unit).read_text()
        if exec_rewrite:
            text = text.replace(*exec_rewrite)
        (work / unit).write_text(text)
    (work / "pohmelfs-mount@mnt-share.service").symlink_to("pohmelfs-mount@.service")
    env = dict(os.environ, MANPATH=str(man_dir), SYSTEMD_LOG_COLOR="0")
    result = run(["systemd-analyze", "verify", "--man=yes",
                  work / "pohmelfs-server.service", work / "pohmelfs-mount@mnt-share.service"], env=env)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        f"systemd-analyze verify complained (status {result.returncode}):\n{result.stdout}{result.stderr}")


# Man pages ---------------------------------------------------------------------------------------


def without_date(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(".Dd "))


@pytest.mark.timeout_seconds(300)
def test_committed_man_pages_match_the_binary(pohmelfs_bin, tmp_path):
    out = tmp_path / "man"
    result = run([PACKAGING / "generate-man.sh", out], env=dict(os.environ, POHMELFS_BIN=str(pohmelfs_bin)),
                 timeout=280)
    assert result.returncode == 0, result.stderr[-4000:]
    generated = sorted(p.name for p in out.iterdir())
    assert generated == sorted(MAN_PAGES)
    assert sorted(p.name for p in (PACKAGING / "man").glob("*.1")) == sorted(MAN_PAGES)
    for page in MAN_PAGES:
        committed = (PACKAGING / "man" / page).read_text()
        assert without_date(committed) == without_date((out / page).read_text()), (
            f"packaging/man/{page} is stale: run `make man` and commit it")


def test_man_pages_are_valid_and_cross_referenced():
    pages = [PACKAGING / "man" / page for page in MAN_PAGES]
    result = run(["groff", "-mandoc", "-Tutf8", "-ww", "-z", *pages])
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    root = (PACKAGING / "man" / "pohmelfs.1").read_text()
    for page in MAN_PAGES[1:]:
        name = page.removesuffix(".1")
        assert f".Xr {name} 1" in root, f"pohmelfs(1) does not refer to {name}(1)"
        assert f".Dt {name.upper()} 1" in (PACKAGING / "man" / page).read_text()
    assert "pohmelfs.help" not in root and "pohmelfs-help" not in root
