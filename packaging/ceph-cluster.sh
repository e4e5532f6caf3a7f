#!/usr/bin/env bash
# A throwaway single-node Ceph on 127.0.0.1 for the CephFS store's tests and `make run-cluster`:
# one monitor, one memstore OSD (data lives in the OSD's memory), one MDS and a CephFS named
# `cephfs`, with a cephx user `client.pohmelfs` made by `ceph fs authorize cephfs client.pohmelfs / rw`.
# No manager (CephFS and RADOS I/O do not need one), no systemd, no vstart.sh: daemons from
# Debian's ceph-mon, ceph-osd and ceph-mds packages (packaging/install-deps.sh installs them).
#
#   packaging/ceph-cluster.sh start  DIR [--port P]   bring it up under DIR (must be empty or absent)
#   packaging/ceph-cluster.sh stop   DIR              SIGKILL every daemon by its PID file
#   packaging/ceph-cluster.sh status DIR              which daemons run; the MDS state
#   packaging/ceph-cluster.sh mkdir  DIR PATH...      make directories (0755, root's) in the CephFS
#
# `start` prints, one per line, `conf=DIR/ceph.conf`, `keyring=DIR/client.pohmelfs.keyring`,
# `id=pohmelfs` and `fs=cephfs` — what `pohmelfs serve --store cephfs --ceph-conf ... --ceph-id ...`
# needs. The monitor listens on 127.0.0.1:P (msgr2 only; default 21400); the OSD and MDS bind
# ports P+1..P+40. Sessions of dead clients are dropped after 30 s (`session_timeout` and
# `session_autoclose` 30, the floor). Everything, logs included, stays under DIR; `stop` leaves
# DIR in place (remove it yourself). A failed `start` stops what it started and shows the log tail.
# Bring-up takes about 5 s, mostly the `ceph` command line's own start-up.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|status DIR [--port P] | mkdir DIR PATH..." >&2
    exit 2
}

[ $# -ge 2 ] || usage
command=$1
dir=$2
shift 2
port=21400
paths=()
while [ "$command" = mkdir ] && [ $# -gt 0 ]; do
    case $1 in /*) paths+=("$1"); shift ;; *) echo "ceph-cluster.sh: mkdir wants absolute paths, got '$1'" >&2; exit 2 ;; esac
done
while [ $# -gt 0 ]; do
    case $1 in
        --port) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
        *) usage ;;
    esac
done
case $port in ''|*[!0-9]*) echo "ceph-cluster.sh: --port wants a number, got '$port'" >&2; exit 2 ;; esac

DAEMONS=(mon.a osd.0 mds.a)
# Seconds to wait for the monitor to answer and for the MDS to become active.
WAIT_SECONDS=${CEPH_CLUSTER_WAIT:-60}

ceph_cli() {
    timeout 30 ceph -c "$dir/ceph.conf" -n client.admin --connect-timeout 10 "$@"
}

alive() {
    local pidfile="$dir/run/$1.pid"
    [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

stop_cluster() {
    local name pid
    for name in "${DAEMONS[@]}"; do
        [ -s "$dir/run/$name.pid" ] || continue
        pid=$(cat "$dir/run/$name.pid")
        kill -KILL "$pid" 2>/dev/null || true
    done
    for name in "${DAEMONS[@]}"; do
        [ -s "$dir/run/$name.pid" ] || continue
        pid=$(cat "$dir/run/$name.pid")
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        rm -f "$dir/run/$name.pid"
    done
}

fail() {
    echo "ceph-cluster.sh: $*" >&2
    local log
    for log in "$dir"/log/*.log; do
        [ -s "$log" ] || continue
        echo "--- tail of $log" >&2
        tail -n 5 "$log" >&2
    done
    stop_cluster
    exit 1
}

require() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || {
            echo "ceph-cluster.sh: $tool not found; run packaging/install-deps.sh (ceph-mon ceph-osd ceph-mds ceph-common)" >&2
            exit 1
        }
    done
}

write_conf() {
    local fsid=$1
    cat >"$dir/ceph.conf" <<EOF
# Written by packaging/ceph-cluster.sh: a single-node test cluster, not for real data.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
ms bind msgr1 = false
ms bind port min = $((port + 1))
ms bind port max = $((port + 40))
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.1
osd objectstore = memstore
memstore device bytes = 2147483648
run dir = $dir/run
log file = $dir/log/\$name.log
crash dir = $dir/crash

[mon]
mon data = $dir/\$name
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok

[osd]
osd data = $dir/\$name
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok

[mds]
mds data = $dir/\$name
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok

[client]
# Under [client], not [global]: daemons would otherwise present the admin key.
keyring = $dir/\$name.keyring
# Several clients (gateways, the CLI) run at once: one socket and log per process.
admin socket = $dir/run/\$name.\$pid.asok
log file = $dir/log/\$name.\$pid.log
EOF
}

start_cluster() {
    require ceph ceph-mon ceph-osd ceph-mds ceph-authtool monmaptool uuidgen
    if alive mon.a || alive osd.0 || alive mds.a; then
        echo "ceph-cluster.sh: a cluster already runs under $dir; stop it first" >&2
        exit 1
    fi
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
        echo "ceph-cluster.sh: $dir is not empty; start wants a fresh directory" >&2
        exit 1
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir/run" "$dir/log" "$dir/crash" "$dir/mon.a" "$dir/osd.0" "$dir/mds.a"
    local fsid
    fsid=$(uuidgen)
    write_conf "$fsid"

    # Monitor: keyrings, monmap, mkfs, run.
    ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/client.admin.keyring" >/dev/null
    monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" "$dir/monmap" >/dev/null
    ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring" \
        >>"$dir/log/setup.log" 2>&1 || fail "monitor mkfs failed"
    ceph-mon -c "$dir/ceph.conf" -i a >>"$dir/log/setup.log" 2>&1 || fail "monitor did not start"
    local i
    for i in $(seq "$WAIT_SECONDS"); do
        ceph_cli mon stat >/dev/null 2>&1 && break
        alive mon.a || fail "monitor exited"
        [ "$i" -lt "$WAIT_SECONDS" ] || fail "monitor on 127.0.0.1:$port did not answer in ${WAIT_SECONDS}s"
        sleep 1
    done

    # OSD: register, key, mkfs (memstore), run.
    local osd_uuid osd_key osd_id
    osd_uuid=$(uuidgen)
    osd_key=$(ceph-authtool --gen-print-key)
    osd_id=$(echo "{\"cephx_secret\": \"$osd_key\"}" | ceph_cli osd new "$osd_uuid" -i -) \
        || fail "ceph osd new failed"
    [ "$osd_id" = 0 ] || fail "expected OSD id 0, got '$osd_id'"
    ceph-authtool --create-keyring "$dir/osd.0/keyring" --name osd.0 --add-key "$osd_key" >/dev/null
    ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/setup.log" 2>&1 \
        || fail "OSD mkfs failed"
    ceph-osd -c "$dir/ceph.conf" -i 0 >>"$dir/log/setup.log" 2>&1 || fail "OSD did not start"

    # MDS and the filesystem.
    ceph_cli auth get-or-create mds.a mon 'allow profile mds' osd 'allow *' mds 'allow' \
        -o "$dir/mds.a/keyring" >/dev/null || fail "MDS key failed"
    ceph_cli osd pool create cephfs.meta 8 >/dev/null 2>&1 || fail "pool create failed"
    ceph_cli osd pool create cephfs.data 8 >/dev/null 2>&1 || fail "pool create failed"
    ceph_cli fs new cephfs cephfs.meta cephfs.data >/dev/null 2>&1 || fail "fs new failed"
    ceph_cli fs set cephfs session_timeout 30 >/dev/null 2>&1 || fail "fs set session_timeout failed"
    ceph_cli fs set cephfs session_autoclose 30 >/dev/null 2>&1 || fail "fs set session_autoclose failed"
    ceph-mds -c "$dir/ceph.conf" -i a >>"$dir/log/setup.log" 2>&1 || fail "MDS did not start"
    ceph_cli fs authorize cephfs client.pohmelfs / rw >"$dir/client.pohmelfs.keyring" 2>>"$dir/log/setup.log" \
        || fail "ceph fs authorize failed"
    chmod 0644 "$dir/client.pohmelfs.keyring"

    for i in $(seq "$WAIT_SECONDS"); do
        ceph_cli mds stat 2>/dev/null | grep -q 'up:active' && break
        alive mds.a || fail "MDS exited"
        alive osd.0 || fail "OSD exited"
        [ "$i" -lt "$WAIT_SECONDS" ] || fail "MDS not active in ${WAIT_SECONDS}s: $(ceph_cli mds stat 2>&1)"
        sleep 0.5
    done
    # /export (0755, root's): what `pohmelfs serve --store cephfs --export /export` serves. The
    # CephFS root itself cannot be exported (it holds the gateways' /.pohmelfs).
    make_export || fail "could not create /export in the CephFS"
    echo "conf=$dir/ceph.conf"
    echo "keyring=$dir/client.pohmelfs.keyring"
    echo "id=pohmelfs"
    echo "fs=cephfs"
}

# mkdir (with parents; existing ones are fine) through libcephfs's Python binding
# (python3-cephfs, a dependency of ceph-common), as client.admin: there is no ceph-fuse or
# kernel client here to do it with.
make_directories() {
    timeout 60 /usr/bin/python3 - "$dir/ceph.conf" "$@" <<'PYTHON'
import sys
import cephfs
fs = cephfs.LibCephFS(conffile=sys.argv[1], auth_id="admin")
fs.conf_set("client_mount_timeout", "30")
fs.mount()
for path in sys.argv[2:]:
    done = ""
    for part in path.strip("/").split("/"):
        done += "/" + part
        try:
            fs.mkdir(done, 0o755)
        except cephfs.ObjectExists:
            pass
fs.unmount()
fs.shutdown()
PYTHON
}

make_export() {
    make_directories /export >>"$dir/log/setup.log" 2>&1
}

status_cluster() {
    local name state=0
    for name in "${DAEMONS[@]}"; do
        if alive "$name"; then
            echo "$name: running (pid $(cat "$dir/run/$name.pid"))"
        else
            echo "$name: not running"
            state=1
        fi
    done
    if alive mon.a; then
        echo "mds: $(ceph_cli mds stat 2>&1)"
    fi
    return $state
}

case $command in
    start) start_cluster ;;
    stop) [ -d "$dir" ] || { echo "ceph-cluster.sh: no $dir" >&2; exit 1; }; stop_cluster ;;
    status) [ -d "$dir" ] || { echo "ceph-cluster.sh: no $dir" >&2; exit 1; }; status_cluster ;;
    mkdir)
        [ ${#paths[@]} -gt 0 ] || usage
        alive mon.a || { echo "ceph-cluster.sh: no cluster runs under $dir" >&2; exit 1; }
        make_directories "${paths[@]}" ;;
    *) usage ;;
esac
