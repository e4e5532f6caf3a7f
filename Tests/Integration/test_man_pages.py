"""Man pages a sysadmin reads (issue 18, item 7): every page passes `man --warnings`, its header
names pohmelfs (not "BSD General Commands Manual"), and the pages carry what --help cannot: mount
options with defaults, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES with fstab lines and systemd
units, TLS set-up, SEE ALSO; mount.fuse.pohmelfs(8) documents the fstab path."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

MAN = Path(__file__).resolve().parents[2] / "packaging" / "man"
PAGES = sorted(MAN.glob("*.[18]"))

pytestmark = pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")


def render(page):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="0")
    result = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True, env=env,
                            timeout=30)
    # Bold and underline come as overstrikes (c BACKSPACE c): keep the plain text.
    result.stdout = re.sub(".\x08", "", result.stdout)
    return result


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_page_renders_without_warnings_under_a_pohmelfs_header(page):
    result = render(page)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    header = result.stdout.splitlines()[0]
    assert "pohmelfs" in header and "BSD" not in header, header
    footer = [line for line in result.stdout.splitlines() if line.strip()][-1]
    assert "BSD" not in footer and "pohmelfs" in footer, footer
    assert "EXIT STATUS" in result.stdout and "SEE ALSO" in result.stdout


def sections(page):
    return render(MAN / page).stdout


def test_the_mount_page_lists_the_options_with_defaults_and_fstab_examples():
    text = sections("pohmelfs-mount.1")
    for heading in ("MOUNT OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
        assert f"\n{heading}\n" in text, heading
    for option in ("cache=strict | none", "writeback=on | off", "cache_size=size", "hard", "soft", "timeout=",
                   "attr_timeout", "tls_dir=dir", "fsname=name"):
        assert option in text, option
    assert "default 256M" in text and "default 30" in text
    assert "fuse.pohmelfs _netdev,nofail,x-systemd.automount 0 0" in text
    assert "pohmelfs-mount@" in text and "mount.fuse.pohmelfs(8)" in text


def test_the_serve_and_overview_pages_cover_files_tls_and_units():
    serve = sections("pohmelfs-serve.1")
    assert "/etc/default/pohmelfs" in serve and "/var/lib/pohmelfs" in serve and "--tls-dir" in serve
    assert "systemctl enable --now pohmelfs-server" in serve
    overview = sections("pohmelfs.1")
    for heading in ("EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"):
        assert f"\n{heading}\n" in overview, heading
    assert "/run/pohmelfs/mounts" in overview and "/etc/pohmelfs/tls" in overview
    helper = sections("mount.fuse.pohmelfs.8")
    assert "fuse.pohmelfs _netdev,nofail,x-systemd.automount 0 0" in helper and "POHMELFS_BIN" in helper
