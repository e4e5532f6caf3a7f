#!/usr/bin/env bash
# `make run` and `make stop`: a server on a default export under the checkout, a mount of it,
# and a short demonstration. Everything lives in ./run (export, state, mountpoint, logs, pid).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/run"
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
port=${POHMELFS_PORT:-7646}

# shellcheck source=packaging/demo-steps.sh
. "$top/packaging/demo-steps.sh"

stop() {
    unmount_demo "$run/mnt"
    stop_server "$run/serve.pid" "the server"
}

start() {
    [ -x "$bin" ] || { echo "run-demo: $bin is not built (make release)" >&2; exit 1; }
    stop
    mkdir -p "$run/export" "$run/state" "$run/mnt"
    start_server "$run/serve.pid" "$run/serve.log" listening \
        --export "$run/export" --listen "127.0.0.1:$port" --state-dir "$run/state"
    "$bin" mount "127.0.0.1:$port" "$run/mnt"
    echo "serving $run/export on 127.0.0.1:$port, mounted at $run/mnt"
    echo
    echo "\$ echo 'hello from pohmelfs' > run/mnt/hello.txt"
    echo 'hello from pohmelfs' >"$run/mnt/hello.txt"
    echo "\$ ls -l run/mnt"
    ls -l "$run/mnt"
    echo "\$ cat run/mnt/hello.txt"
    cat "$run/mnt/hello.txt"
    echo "\$ cat run/export/hello.txt   # the same bytes, on the server's side"
    cat "$run/export/hello.txt"
    echo
    echo "The mount stays up. Stop it (unmount and end the server) with: make stop"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: run-demo.sh [start|stop]" >&2; exit 1 ;;
esac
