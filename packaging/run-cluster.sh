#!/usr/bin/env bash
# `make run-cluster` and `make stop-cluster`: a single-node Ceph (packaging/ceph-cluster.sh), two
# `pohmelfs serve --store cephfs` over its CephFS (/export), a mount through each, and a short
# demonstration that a write through one server is read through the other. Everything lives in
# ./run-cluster (the cluster's state, both servers' state and logs, the mountpoints a and b).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/run-cluster"
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
port=${POHMELFS_PORT:-7660}
ceph_port=${POHMELFS_CEPH_PORT:-21400}
names=(a b)

# shellcheck source=packaging/demo-steps.sh
. "$top/packaging/demo-steps.sh"

stop() {
    local name
    for name in "${names[@]}"; do unmount_demo "$run/mnt-$name"; done
    for name in "${names[@]}"; do stop_server "$run/serve-$name.pid" "server $name"; done
    if [ -d "$run/ceph" ]; then
        "$top/packaging/ceph-cluster.sh" stop "$run/ceph" && echo "stopped the Ceph cluster"
        rm -rf "$run/ceph"
    fi
}

start() {
    [ -x "$bin" ] || { echo "run-cluster: $bin is not built (make release)" >&2; exit 1; }
    stop
    mkdir -p "$run"
    echo "starting a single-node Ceph on 127.0.0.1:$ceph_port ..."
    local values conf id fs name index=0
    values=$("$top/packaging/ceph-cluster.sh" start "$run/ceph" --port "$ceph_port")
    conf=$(sed -n 's/^conf=//p' <<<"$values")
    id=$(sed -n 's/^id=//p' <<<"$values")
    fs=$(sed -n 's/^fs=//p' <<<"$values")
    for name in "${names[@]}"; do
        local listen="127.0.0.1:$((port + index))"
        index=$((index + 1))
        mkdir -p "$run/state-$name" "$run/mnt-$name"
        start_server "$run/serve-$name.pid" "$run/serve-$name.log" exporting \
            --store cephfs --ceph-conf "$conf" --ceph-id "$id" --ceph-fs "$fs" --export /export \
            --listen "$listen" --state-dir "$run/state-$name" --gateway-id "$name"
        "$bin" mount "$listen" "$run/mnt-$name"
        echo "server $name: CephFS /export on $listen, mounted at $run/mnt-$name"
    done
    echo
    echo "\$ echo 'written through server a' > run-cluster/mnt-a/hello.txt"
    echo 'written through server a' >"$run/mnt-a/hello.txt"
    echo "\$ cat run-cluster/mnt-b/hello.txt   # read through server b"
    cat "$run/mnt-b/hello.txt"
    echo
    echo "Both mounts stay up. Stop everything (mounts, servers, Ceph) with: make stop-cluster"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: run-cluster.sh [start|stop]" >&2; exit 1 ;;
esac
