#!/usr/bin/env bash
# `make conformance`: outside suites against fresh pohmelfs mounts, from sources the user has.
#
#   PJDFSTEST_SRC=DIR XFSTESTS_SRC=DIR packaging/conformance.sh
#
# PJDFSTEST_SRC  a checkout of pjdfstest (github.com/pjd/pjdfstest)
# XFSTESTS_SRC   a checkout of xfstests (git.kernel.org/pub/scm/fs/xfs/xfstests-dev.git)
# POHMELFS_BIN   the binary to test (default: the release build)
# CONFORMANCE_DIR  where the suites are built and the export lives (default .build/conformance)
# FSX_OPS        operations per fsx run (default 200000)
# FSSTRESS_OPS   operations per fsstress process (default 10000); FSSTRESS_PROCS (default 4)
# CONFORMANCE_SUITES  which to run, any of "pjdfstest fsx fsstress" (default all three)
#
# Nothing is fetched: the sources are copied into CONFORMANCE_DIR and built there (pjdfstest
# with autotools; fsx and fsstress from xfstests' ltp/), so the user's checkouts stay clean.
# The Debian packages they need are listed in packaging/conformance-deps.txt and installed when
# missing (as root). Then, each against a fresh server and export on 127.0.0.1:
#   - pjdfstest in full (`prove -r`) as root on a mount with allow_other,default_permissions;
#   - fsx with mmap, without mmap (-R -W), with AIO (-A), with O_DIRECT (-Z) and with io_uring
#     (-U), on the default mount and on a cache=none mount;
#   - fsstress with FSSTRESS_PROCS processes of FSSTRESS_OPS operations each.
# Every suite prints one line "SUITE: N passed, N failed"; the last line sums the runs, and the
# exit status is 1 when anything failed. Logs stay in CONFORMANCE_DIR/logs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=${CONFORMANCE_DIR:-"$top/.build/conformance"}
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
fsx_ops=${FSX_OPS:-200000}
fsstress_ops=${FSSTRESS_OPS:-10000}
fsstress_procs=${FSSTRESS_PROCS:-4}
suites=${CONFORMANCE_SUITES:-"pjdfstest fsx fsstress"}

fail() { echo "conformance: $*" >&2; exit 2; }

wants() { [[ " $suites " == *" $1 "* ]]; }
wants pjdfstest && { [ -n "${PJDFSTEST_SRC:-}" ] || fail "set PJDFSTEST_SRC to a pjdfstest checkout (nothing is downloaded)"; }
if wants fsx || wants fsstress; then
    [ -n "${XFSTESTS_SRC:-}" ] || fail "set XFSTESTS_SRC to an xfstests checkout (nothing is downloaded)"
fi
wants pjdfstest && { [ -f "$PJDFSTEST_SRC/pjdfstest.c" ] || fail "$PJDFSTEST_SRC is not a pjdfstest checkout (no pjdfstest.c)"; }
if wants fsx || wants fsstress; then
    [ -f "$XFSTESTS_SRC/ltp/fsx.c" ] || fail "$XFSTESTS_SRC is not an xfstests checkout (no ltp/fsx.c)"
fi
[ -x "$bin" ] || fail "$bin is not built (make release, or set POHMELFS_BIN)"
[ "$(id -u)" -eq 0 ] || fail "run as root: pjdfstest changes owners and the mounts use allow_other"

# Dependencies -----------------------------------------------------------------------------------
mapfile -t packages < <(grep -v '^\s*#' "$top/packaging/conformance-deps.txt" | tr -s ' \t' '\n' | grep .)
missing=()
for package in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null)" = "ii " ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "conformance: installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p "$work/logs"
logs="$work/logs"

# Building ---------------------------------------------------------------------------------------
build_pjdfstest() {
    # Built in a scratch copy and moved into place only when complete, so an interrupted build
    # is started over next time.
    local dir="$work/pjdfstest"
    if [ ! -x "$dir/pjdfstest" ] || [ ! -d "$dir/tests" ]; then
        echo "conformance: building pjdfstest (log: $logs/build-pjdfstest.log)"
        rm -rf "$dir" "$dir.building" && cp -a "$PJDFSTEST_SRC" "$dir.building"
        (cd "$dir.building" && autoreconf -ifs && ./configure && make pjdfstest) >"$logs/build-pjdfstest.log" 2>&1 \
            || fail "pjdfstest does not build: see $logs/build-pjdfstest.log"
        mv "$dir.building" "$dir"
    fi
}

build_xfstests() {
    local dir="$work/xfstests"
    if [ ! -x "$dir/ltp/fsx" ] || [ ! -x "$dir/ltp/fsstress" ]; then
        echo "conformance: building fsx and fsstress (log: $logs/build-xfstests.log)"
        rm -rf "$dir" "$dir.building" && cp -a "$XFSTESTS_SRC" "$dir.building"
        (cd "$dir.building" && make configure && ./configure && make -C lib && make -C ltp fsx fsstress) \
            >"$logs/build-xfstests.log" 2>&1 || fail "fsx/fsstress do not build: see $logs/build-xfstests.log"
        mv "$dir.building" "$dir"
    fi
}

wants pjdfstest && build_pjdfstest
if wants fsx || wants fsstress; then build_xfstests; fi

# Server and mounts ------------------------------------------------------------------------------
server_pid=""
mounts=()

cleanup() {
    local mountpoint
    for mountpoint in "${mounts[@]}"; do
        fusermount3 -u -z "$mountpoint" 2>/dev/null || true
    done
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server NAME: a fresh export and state directory, a server on a free port ($port).
start_server() {
    cleanup
    mounts=()
    local name=$1 run="$work/run-$1"
    rm -rf "$run" && mkdir -p "$run/export" "$run/state"
    port=$(free_port)
    "$bin" serve --export "$run/export" --state-dir "$run/state" --listen "127.0.0.1:$port" \
        >"$logs/serve-$name.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        grep -q "listening" "$logs/serve-$name.log" && return 0
        kill -0 "$server_pid" 2>/dev/null || fail "the server did not start: see $logs/serve-$name.log"
        sleep 0.1
    done
    fail "the server did not start listening within 10 s: see $logs/serve-$name.log"
}

# mount_export NAME OPTIONS: mounts the running server at $work/run-NAME/mnt-<label>; sets $mountpoint.
mount_export() {
    local name=$1 options=$2
    mountpoint="$work/run-$name/mnt-${options:-default}"
    mountpoint=${mountpoint//,/-}
    mountpoint=${mountpoint//=/-}
    mkdir -p "$mountpoint"
    "$bin" mount "127.0.0.1:$port" "$mountpoint" ${options:+-o "$options"} \
        >>"$logs/mount-$name.log" 2>&1 || fail "mount failed: see $logs/mount-$name.log"
    mounts+=("$mountpoint")
}

total_passed=0
total_failed=0
report() {  # report SUITE PASSED FAILED
    echo "$1: $2 passed, $3 failed"
    total_passed=$((total_passed + $2))
    total_failed=$((total_failed + $3))
}

# pjdfstest --------------------------------------------------------------------------------------
run_pjdfstest() {
    start_server pjdfstest
    mount_export pjdfstest "allow_other,default_permissions"
    mkdir -p "$mountpoint/pjd"
    echo "conformance: pjdfstest (prove -r; log: $logs/pjdfstest.log)"
    local status=0
    (cd "$mountpoint/pjd" && prove -r "$work/pjdfstest/tests") >"$logs/pjdfstest.log" 2>&1 || status=$?
    local tests failed
    tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$logs/pjdfstest.log" | tail -1)
    # The summary's "(Wstat: W Tests: T Failed: F)" per file with failures (awk alone: no match
    # must not end the script).
    failed=$(awk 'match($0, /Failed: [0-9]+\)/) {s += substr($0, RSTART + 8, RLENGTH - 9)} END {print s + 0}' \
        "$logs/pjdfstest.log")
    if [ -z "$tests" ]; then
        echo "conformance: prove printed no summary (exit $status): see $logs/pjdfstest.log" >&2
        report pjdfstest 0 1
        return
    fi
    # Test files that died without a plan count as one failure each.
    local died
    died=$(grep -c 'Parse errors: No plan found\|Wstat: [1-9]' "$logs/pjdfstest.log" || true)
    [ "$failed" -eq 0 ] && [ "$status" -ne 0 ] && failed=$((died > 0 ? died : 1))
    report pjdfstest $((tests - failed)) "$failed"
    grep -E 'Failed: [1-9]|^  Failed test' "$logs/pjdfstest.log" | head -20 || true
}

# fsx ---------------------------------------------------------------------------------------------
# Operations FUSE cannot do (collapse/insert range, clone, dedupe, exchange) are switched off;
# fsx itself also probes and skips what the filesystem refuses.
fsx_common=(-q -N "$fsx_ops" -S 1 -C -I -J -B -0)
declare -A fsx_modes=(
    [default]=""
    [no-mmap]="-R -W"
    [aio]="-A"
    [o_direct]="-Z -R -W -r 4096 -w 4096 -t 4096"
    [io_uring]="-U"
)
fsx_order=(default no-mmap aio o_direct io_uring)

run_fsx() {
    local options label mode passed=0 failed=0
    for options in "" "cache=none"; do
        start_server "fsx"
        mount_export fsx "$options"
        label=${options:-default mount}
        for mode in "${fsx_order[@]}"; do
            local log="$logs/fsx-${options:-default}-$mode.log"
            # shellcheck disable=SC2086
            if (cd "$mountpoint" && "$work/xfstests/ltp/fsx" "${fsx_common[@]}" ${fsx_modes[$mode]} -P "$logs" \
                "fsx-${options:-default}-$mode") >"$log" 2>&1; then
                passed=$((passed + 1))
                echo "  fsx $mode on the $label: clean ($fsx_ops operations)"
            else
                failed=$((failed + 1))
                echo "  fsx $mode on the $label: FAILED (see $log)"
                tail -5 "$log" | sed 's/^/    /'
            fi
        done
    done
    report fsx "$passed" "$failed"
}

# fsstress ----------------------------------------------------------------------------------------
run_fsstress() {
    start_server fsstress
    mount_export fsstress ""
    local log="$logs/fsstress.log"
    mkdir -p "$mountpoint/fsstress"
    if "$work/xfstests/ltp/fsstress" -d "$mountpoint/fsstress" -p "$fsstress_procs" -n "$fsstress_ops" -s 1 \
        >"$log" 2>&1; then
        echo "  fsstress ${fsstress_procs}x$fsstress_ops: clean"
        report fsstress 1 0
    else
        echo "  fsstress ${fsstress_procs}x$fsstress_ops: FAILED (see $log)"
        tail -5 "$log" | sed 's/^/    /'
        report fsstress 0 1
    fi
}

wants pjdfstest && run_pjdfstest
wants fsx && run_fsx
wants fsstress && run_fsstress

echo "conformance: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
