#!/usr/bin/env bash
# TLS against plaintext, same run: 1 GiB sequential write (dd bs=1M conv=fsync) and read (dd
# bs=1M from a fresh mount, so nothing comes from the client's page cache) through a plain
# server and a TLS server (client certificate) on loopback, each run RUNS times, alternating.
#
#   POHMELFS_BIN=.build/release/pohmelfs packaging/bench-tls.sh [SIZE_MIB] [RUNS]
#
# Everything lives in one temporary directory and is unmounted, stopped and removed on exit.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
size_mib=${1:-1024}
runs=${2:-2}
[ -x "$bin" ] || { echo "bench-tls: $bin is not built" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pohmelfs-bench-tls.XXXXXX")
pids=()
teardown() {
    set +e
    for m in "$work"/mnt-*; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u -z "$m"; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap teardown EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # name port extra-args...
    local name=$1 port=$2; shift 2
    mkdir -p "$work/export-$name"
    "$bin" serve --export "$work/export-$name" --state-dir "$work/state-$name" --listen "127.0.0.1:$port" \
        "$@" 2>"$work/serve-$name.log" &
    pids+=($!)
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench-tls: server $name did not start" >&2; cat "$work/serve-$name.log" >&2; exit 1
}

plain_port=$(free_port); start_server plain "$plain_port"
tls_port=$(free_port); start_server tls "$tls_port" --tls-dir "$work/tls"

mib_per_s() { # dd's stderr -> MiB/s
    awk -v size="$size_mib" '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print size / $(i-1) }'
}

one() { # name port options -> "write read"
    local name=$1 port=$2 options=$3 m="$work/mnt-$1"
    mkdir -p "$m"
    "$bin" mount "127.0.0.1:$port" "$m" ${options:+-o "$options"}
    local w
    w=$(dd if=/dev/zero of="$m/big" bs=1M count="$size_mib" conv=fsync 2>&1 | mib_per_s)
    fusermount3 -u "$m"
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    "$bin" mount "127.0.0.1:$port" "$m" ${options:+-o "$options"}
    local r
    r=$(dd if="$m/big" of=/dev/null bs=1M 2>&1 | mib_per_s)
    rm -f "$m/big"
    fusermount3 -u "$m"
    echo "$w $r"
}

printf '%-6s %-4s %12s %12s\n' mode run "write MiB/s" "read MiB/s"
for run in $(seq "$runs"); do
    read -r w r < <(one plain "$plain_port" "")
    printf '%-6s %-4s %12.0f %12.0f\n' plain "$run" "$w" "$r"
    read -r w r < <(one tls "$tls_port" "tls_dir=$work/tls/client")
    printf '%-6s %-4s %12.0f %12.0f\n' tls "$run" "$w" "$r"
done
