#!/usr/bin/env bash
# `make bench-cluster`: pohmelfs over CephFS beside ceph-fuse on the same throwaway cluster
# (issue 19, item 5). Not part of `make bench` (it starts a Ceph cluster and takes minutes).
#
#   POHMELFS_BIN=.build/release/pohmelfs packaging/bench-cluster.sh [--port P] [--size 64M]
#       [--files 500] [--runs 1] [--tar-source /usr/include/linux]
#
# Brings up packaging/ceph-cluster.sh's single-node cluster (memstore OSD, 2 GiB) under a
# temporary directory, monitor on 127.0.0.1:P (default: a free port; the OSD and MDS take
# P+1..P+40), then mounts, each on its own CephFS directory:
#   ceph-fuse       ceph-fuse of /export/fuse (libcephfs in FUSE, Ceph's own client; defaults)
#   pohmelfs-1      one `pohmelfs serve --store cephfs` of /export/one, one mount through it
#   pohmelfs-2      two servers of /export/two, one mount through each (the scale-out case:
#                   each workload runs on both mounts at once; figures are the sum of the two)
# and runs packaging/bench_cluster.py: copy-in (1 MiB writes + fsync), copy-out (cold read),
# random 4 KiB reads, create/stat/rename/unlink rates (`pohmelfs bench`), and `tar -xf` of
# --tar-source's tarball. Prints one table. Tears everything down on every exit.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
case "$bin" in /*) ;; *) bin="$top/$bin" ;; esac

say() { echo "bench-cluster: $*" >&2; }

port=""
driver_args=()
tar_source=/usr/include/linux
while [ $# -gt 0 ]; do
    case "$1" in
        --port) port=$2; shift 2 ;;
        --tar-source) tar_source=$2; shift 2 ;;
        --size|--files|--runs) driver_args+=("$1" "$2"); shift 2 ;;
        *) say "unknown option $1"; exit 2 ;;
    esac
done

[ -x "$bin" ] || { say "$bin is not built (build it, or set POHMELFS_BIN)"; exit 1; }
command -v ceph-fuse >/dev/null || { say "ceph-fuse is missing (packaging/install-deps.sh installs it)"; exit 1; }
[ -d "$tar_source" ] || { say "--tar-source $tar_source is not a directory"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pohmelfs-bench-cluster.XXXXXX")
cluster_started=0
pids=()
mounts=()

teardown() {
    local status=$?
    set +e
    for mountpoint in "${mounts[@]}"; do
        if grep -qs " $mountpoint fuse" /proc/mounts; then
            fusermount3 -u "$mountpoint" 2>/dev/null || fusermount3 -u -z "$mountpoint"
        fi
    done
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ "$cluster_started" -eq 1 ] && "$top/packaging/ceph-cluster.sh" stop "$work/ceph" >/dev/null 2>&1
    rm -rf "$work"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_mount() {
    for _ in $(seq 100); do
        grep -qs " $1 fuse" /proc/mounts && return 0
        sleep 0.1
    done
    return 1
}

# --- the cluster ------------------------------------------------------------------------------
[ -n "$port" ] || port=$(free_port)
cluster_started=1
values=$("$top/packaging/ceph-cluster.sh" start "$work/ceph" --port "$port")
conf=$(sed -n 's/^conf=//p' <<<"$values")
id=$(sed -n 's/^id=//p' <<<"$values")
fs=$(sed -n 's/^fs=//p' <<<"$values")
"$top/packaging/ceph-cluster.sh" mkdir "$work/ceph" /export/fuse /export/one /export/two
say "cluster up under $work/ceph (monitor 127.0.0.1:$port)"

# --- pohmelfs servers and mounts --------------------------------------------------------------
# serve NAME EXPORT: a server of EXPORT on a free port, its address left in $listen (not a
# subshell: its pid must reach the teardown's list).
serve() {
    local name=$1 export=$2
    listen=127.0.0.1:$(free_port)
    "$bin" serve --store cephfs --ceph-conf "$conf" --ceph-id "$id" --ceph-fs "$fs" --export "$export" \
        --listen "$listen" --state-dir "$work/state-$name" >"$work/serve-$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 300); do
        grep -q "listening" "$work/serve-$name.log" && break
        kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/serve-$name.log" >&2; say "server $name failed"; exit 1; }
        sleep 0.1
    done
    grep -q "listening" "$work/serve-$name.log" || { say "server $name did not start listening"; exit 1; }
}
for name in one two-a two-b; do
    case $name in one) export=/export/one ;; *) export=/export/two ;; esac
    serve "$name" "$export"
    mkdir -p "$work/$name"
    mounts+=("$work/$name")
    "$bin" mount "$listen" "$work/$name"
    grep -qs " $work/$name fuse.pohmelfs " /proc/mounts || { say "the mount through $name is not there"; exit 1; }
    say "pohmelfs $name: CephFS $export through $listen at $work/$name"
done

# --- ceph-fuse --------------------------------------------------------------------------------
mkdir -p "$work/fuse"
mounts+=("$work/fuse")
ceph-fuse -f -c "$conf" --id "$id" --client_fs "$fs" -r /export/fuse "$work/fuse" >"$work/ceph-fuse.log" 2>&1 &
pids+=($!)
wait_for_mount "$work/fuse" || { cat "$work/ceph-fuse.log" >&2; say "ceph-fuse did not mount"; exit 1; }
say "ceph-fuse: CephFS /export/fuse at $work/fuse"

# --- the tarball ------------------------------------------------------------------------------
tar -cf "$work/tree.tar" -C "$tar_source" .

python3 "$top/packaging/bench_cluster.py" --pohmelfs "$bin" --tarball "$work/tree.tar" \
    --ceph-fuse "$work/fuse" --one "$work/one" --two "$work/two-a" "$work/two-b" "${driver_args[@]}"
