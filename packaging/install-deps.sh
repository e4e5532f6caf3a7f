#!/usr/bin/env bash
# Installs what building and testing pohmelfs needs on Debian 12, and nothing that is already
# there. Idempotent: a second run only checks (dpkg-query) and prints nothing.
#
#   packaging/install-deps.sh                 install what is missing (root, or sudo)
#   packaging/install-deps.sh --print-python  print the interpreter to run pytest with; no installs
#
# Debian packages: libfuse3-dev fuse3 libsystemd-dev pkg-config (build: the CFuse3 and CSystemd
# system-library targets; fusermount3 for the mount tests), attr (getfattr/setfattr for the
# xattr tests), python3 python3-pytest (the integration suite), iproute2 (`ip netns` and veth
# pairs for the network-cut test), and for the packaging tests and
# `make deb`: systemd (systemd-analyze verify), man-db (verify looks up the units' man pages),
# groff-base (the man page check), dpkg-dev (dpkg-shlibdeps), binutils (strip); for the CephFS
# store: libcephfs-dev (the CCephFS target's declarations; it pulls in libcephfs2, which
# `serve --store cephfs` opens at run time), and for its tests' single-node cluster
# (packaging/ceph-cluster.sh) ceph-mon ceph-osd ceph-mds (which bring ceph-base and ceph-common: monmaptool, ceph-authtool, the `ceph` CLI)
# and uuid-runtime (uuidgen); no manager (ceph-mgr) is needed; ceph-fuse for `make bench-cluster`
# (Ceph's own FUSE client, the peer pohmelfs over CephFS is measured against). `apt-get update`
# runs once, and only when something is missing.
#
# Python: the suite runs with `python3 -m pytest`, using the `python3` first on PATH when it
# already has pytest (a pyenv or venv interpreter a developer chose). When it does not, the suite
# runs with Debian's `/usr/bin/python3`, whose pytest comes from python3-pytest installed above.
# That fallback needs no network beyond the Debian mirror and never changes a Python the user
# manages. The Makefile asks `--print-python` which of the two to use.
#
# Also makes sure /dev/fuse exists (a container may lack the node) and tries `modprobe fuse`.
# The Swift toolchain is not installed here: it is expected on PATH.
set -euo pipefail

PACKAGES=(libfuse3-dev fuse3 libsystemd-dev pkg-config attr python3 python3-pytest iproute2
    systemd man-db groff-base dpkg-dev binutils
    libcephfs-dev ceph-mon ceph-osd ceph-mds ceph-common ceph-fuse uuid-runtime)
DEBIAN_PYTHON=/usr/bin/python3

# The interpreter that can run pytest: the first python3 on PATH if it has pytest, else Debian's.
pytest_python() {
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import pytest' >/dev/null 2>&1; then
        echo python3
    elif [ -x "$DEBIAN_PYTHON" ] && "$DEBIAN_PYTHON" -c 'import pytest' >/dev/null 2>&1; then
        echo "$DEBIAN_PYTHON"
    else
        return 1
    fi
}

if [ "${1:-}" = "--print-python" ]; then
    pytest_python || { echo "install-deps.sh: no python3 with pytest; run packaging/install-deps.sh" >&2; exit 1; }
    exit 0
fi
if [ $# -gt 0 ]; then
    echo "usage: $0 [--print-python]" >&2
    exit 2
fi

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

missing=()
for package in "${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "install-deps.sh: missing Debian packages: ${missing[*]}; run this script as root" >&2
        exit 1
    fi
    echo "install-deps.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_options=(-qq -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
    "${as_root[@]}" apt-get "${apt_options[@]}" update
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" install -y --no-install-recommends \
        "${missing[@]}" >/dev/null
    for package in "${missing[@]}"; do
        installed "$package" || { echo "install-deps.sh: $package did not install" >&2; exit 1; }
    done
fi

# FUSE: the device node and the module. Both are harmless when already there; failures are
# silent here because the mount tests report a missing /dev/fuse themselves.
if [ "$(id -u)" -eq 0 ]; then
    if [ ! -e /dev/fuse ]; then
        mknod -m 0666 /dev/fuse c 10 229 2>/dev/null || true
    fi
    if command -v modprobe >/dev/null 2>&1; then
        modprobe fuse >/dev/null 2>&1 || true
    fi
fi

if ! pytest_python >/dev/null; then
    echo "install-deps.sh: neither python3 on PATH nor $DEBIAN_PYTHON can import pytest" >&2
    exit 1
fi
