# Steps shared by run-demo.sh (`make run`) and run-cluster.sh (`make run-cluster`); sourced, not run.

# unmount_demo MOUNTPOINT: unmounts a pohmelfs mount there, if there is one.
unmount_demo() {
    if grep -qs " $1 fuse.pohmelfs " /proc/mounts; then
        fusermount3 -u "$1" 2>/dev/null || fusermount3 -u -z "$1" || true
        echo "unmounted $1"
    fi
}

# stop_server PIDFILE NAME: SIGTERM the server whose pid PIDFILE holds, SIGKILL after 10 s.
stop_server() {
    [ -f "$1" ] || return 0
    local pid
    pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        echo "stopped $2 (pid $pid)"
    fi
    rm -f "$1"
}

# start_server PIDFILE LOG WORD ARGS...: `pohmelfs serve ARGS` in the background, waiting (20 s at
# most) until LOG says WORD; if the server dies first, its log is shown and the script fails.
start_server() {
    local pidfile=$1 log=$2 word=$3
    shift 3
    "$bin" serve "$@" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 200); do
        grep -q "$word" "$log" && return 0
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    echo "the server did not say \"$word\" in 20 s; its log: $log" >&2
    exit 1
}
