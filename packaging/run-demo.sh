#!/usr/bin/env bash
# `make run` and `make stop`: a server on a default export under the checkout, a mount of it,
# and a short demonstration. Everything lives in ./run (export, state, mountpoint, logs, pid).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/run"
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
port=${POHMELFS_PORT:-7646}

stop() {
    if grep -qs " $run/mnt fuse.pohmelfs " /proc/mounts; then
        fusermount3 -u "$run/mnt" 2>/dev/null || fusermount3 -u -z "$run/mnt" || true
        echo "unmounted $run/mnt"
    fi
    if [ -f "$run/serve.pid" ]; then
        pid=$(cat "$run/serve.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            echo "stopped the server (pid $pid)"
        fi
        rm -f "$run/serve.pid"
    fi
}

start() {
    [ -x "$bin" ] || { echo "run-demo: $bin is not built (make release)" >&2; exit 1; }
    stop
    mkdir -p "$run/export" "$run/state" "$run/mnt"
    "$bin" serve --export "$run/export" --listen "127.0.0.1:$port" --state-dir "$run/state" \
        >"$run/serve.log" 2>&1 &
    echo $! >"$run/serve.pid"
    for _ in $(seq 100); do
        grep -q "listening" "$run/serve.log" && break
        kill -0 "$(cat "$run/serve.pid")" 2>/dev/null || { cat "$run/serve.log" >&2; exit 1; }
        sleep 0.1
    done
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
