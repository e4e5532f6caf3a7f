#!/usr/bin/env bash
# `make bench`: measures every workload of the metadata and data-path issues (16, 17) on four directories of this
# machine side by side: a local directory, libfuse's passthrough_ll over a local directory (the
# FUSE ceiling), a pohmelfs mount and an sshfs mount, both over loopback. Then prints every
# figure and those issues' targets, met or missed. Tears everything down afterwards, whatever
# happens.
#
#   POHMELFS_BIN=.build/release/pohmelfs packaging/bench-setup.sh [options] [pohmelfs bench options...]
#
# Its own options (the rest go to `pohmelfs bench`, e.g. --size 256M --runs 1 --files 2000):
#   --dbench-seconds S   length of each dbench run (default 20; 0 leaves dbench out)
#   --dbench-clients N   dbench's clients (default 4)
#   --tar-source DIR     the tree whose tarball tar -xf extracts (default /usr/include)
# --runs N is also the number of runs of tar -xf, cp -r and dbench.
#
# Pieces: `pohmelfs bench --json` times the copies, cold and cached reads, random reads and the
# metadata rates itself; packaging/bench_external.py times tar -xf, cp -r and dbench; a sampler
# here reads the RSS of the pohmelfs client and server (and sshfs, passthrough_ll) every 0.5 s;
# packaging/bench_targets.py prints the table. POHMELFS_BENCH_OUT=DIR keeps the raw JSON and the
# RSS samples there. POHMELFS_MOUNT_OPTIONS=OPTS mounts pohmelfs with -o OPTS (e.g. leases=off, to
# measure without leases in the same run of the others). POHMELFS_BENCH_BEFORE_OPTIONS=OPTS adds
# a second pohmelfs (its own server) mounted with -o OPTS, reported as "pohmelfs-before";
# POHMELFS_BENCH_BEFORE_BIN=FILE runs that second one from another build (an earlier commit's
# release binary: before and after a change in one run).
#
# Builds only passthrough_ll (packaging/bench-passthrough.sh) and the tarball, once each, into
# .build/bench (or $POHMELFS_BENCH_CACHE). Everything else lives in one temporary directory (under
# $POHMELFS_BENCH_DIR, default $TMPDIR or /tmp, so all exports share one disk): the local
# target, the exports, state and mountpoints, a private sshd with throwaway keys, and the logs.
#
# Bench-only Debian packages (sshfs, openssh-server, dbench, gcc) are installed when missing, as
# root, without letting a package start the system's sshd; `make test` needs none of them. sshfs
# mounts with the settings of the performance issue (max_conns=4, AES-GCM, no compression).
# Without sshfs, passthrough_ll or dbench the bench says so and measures the rest. Every address
# is loopback. The exit status is pohmelfs bench's, or bench_external.py's when that failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
case "$bin" in /*) ;; *) bin="$top/$bin" ;; esac

say() { echo "bench-setup: $*" >&2; }

dbench_seconds=20
dbench_clients=4
tar_source=/usr/include
runs=3
bench_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dbench-seconds) dbench_seconds=$2; shift 2 ;;
        --dbench-clients) dbench_clients=$2; shift 2 ;;
        --tar-source) tar_source=$2; shift 2 ;;
        --runs) runs=$2; bench_args+=("$1" "$2"); shift 2 ;;
        --runs=*) runs=${1#--runs=}; bench_args+=("$1"); shift ;;
        *) bench_args+=("$1"); shift ;;
    esac
done

[ -x "$bin" ] || { say "$bin is not built (build it, or set POHMELFS_BIN)"; exit 1; }
command -v fusermount3 >/dev/null || { say "fusermount3 is missing (apt-get install fuse3)"; exit 1; }
[ -d "$tar_source" ] || { say "--tar-source $tar_source is not a directory"; exit 1; }

base=${POHMELFS_BENCH_DIR:-${TMPDIR:-/tmp}}
work=$(mktemp -d "$base/pohmelfs-bench-setup.XXXXXX")
# passthrough_ll and the tarball are made once and kept here (tests point it elsewhere).
cache=${POHMELFS_BENCH_CACHE:-"$top/.build/bench"}
serve_pid=""
before_serve_pid=""
sshd_pid=""
passthrough_pid=""
sampler_pid=""

# Unmounts, stops and removes everything this script started, in reverse order. Runs on every
# exit: success, failure, or a signal.
teardown() {
    local status=$?
    set +e
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null && wait "$sampler_pid" 2>/dev/null
    for mountpoint in "$work/sshfs" "$work/pohmelfs-before" "$work/pohmelfs" "$work/passthrough"; do
        if grep -qs " $mountpoint fuse" /proc/mounts; then
            fusermount3 -u "$mountpoint" 2>/dev/null || fusermount3 -u -z "$mountpoint"
        fi
    done
    for pid in "$passthrough_pid" "$sshd_pid" "$before_serve_pid" "$serve_pid"; do
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$work"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port nobody listens on at 127.0.0.1.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for something to accept connections on 127.0.0.1:$1.
wait_for_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Waits up to 10 s for a FUSE mount on $1.
wait_for_mount() {
    for _ in $(seq 100); do
        grep -qs " $1 fuse" /proc/mounts && return 0
        sleep 0.1
    done
    return 1
}

# --- bench-only packages ----------------------------------------------------------------------
# Installs whichever of sshfs, openssh-server, dbench and gcc is missing; failures are reported
# and the bench goes on with what there is.
ensure_bench_packages() {
    local wanted=() package
    command -v sshfs >/dev/null || wanted+=(sshfs)
    [ -x /usr/sbin/sshd ] || wanted+=(openssh-server)
    command -v dbench >/dev/null || wanted+=(dbench)
    command -v gcc >/dev/null || wanted+=(gcc)
    [ ${#wanted[@]} -gt 0 ] || return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        say "missing ${wanted[*]}, which cannot be installed here (needs root and apt-get)"
        return 0
    fi
    say "installing ${wanted[*]}"
    # Keep openssh-server from starting the system's sshd (which would listen on every address).
    local policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
    "${install[@]}" "${wanted[@]}" >"$work/apt.log" 2>&1 ||
        { apt-get update -q >>"$work/apt.log" 2>&1 && "${install[@]}" "${wanted[@]}" >>"$work/apt.log" 2>&1; } ||
        { tail -n 5 "$work/apt.log" >&2; say "could not install all of ${wanted[*]}"; }
    [ -n "$policy" ] && rm -f "$policy"
    return 0
}
ensure_bench_packages

# --- the local directory ----------------------------------------------------------------------
mkdir -p "$work/local" "$work/scratch"
targets=("$work/local")
names=(local)

# --- the FUSE ceiling: passthrough_ll over a local directory -----------------------------------
start_passthrough() {
    local passthrough
    passthrough=$("$top/packaging/bench-passthrough.sh" "$cache") || return 1
    mkdir -p "$work/passthrough-export" "$work/passthrough"
    "$passthrough" -f -o "source=$work/passthrough-export" "$work/passthrough" >"$work/passthrough.log" 2>&1 &
    passthrough_pid=$!
    wait_for_mount "$work/passthrough" || { cat "$work/passthrough.log" >&2; return 1; }
    say "passthrough_ll: $work/passthrough-export mounted at $work/passthrough"
}
if start_passthrough; then
    targets+=("$work/passthrough")
    names+=(passthrough)
else
    say "without the FUSE ceiling: passthrough_ll could not be built or mounted"
fi

# --- pohmelfs over loopback -------------------------------------------------------------------
mkdir -p "$work/export" "$work/state" "$work/pohmelfs"
port=$(free_port)
"$bin" serve --export "$work/export" --listen "127.0.0.1:$port" --state-dir "$work/state" \
    >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do
    grep -q "listening" "$work/serve.log" && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; say "pohmelfs serve failed"; exit 1; }
    sleep 0.1
done
grep -q "listening" "$work/serve.log" || { say "pohmelfs serve did not start listening"; exit 1; }
mount_options=()
[ -n "${POHMELFS_MOUNT_OPTIONS:-}" ] && mount_options=(-o "$POHMELFS_MOUNT_OPTIONS")
"$bin" mount "127.0.0.1:$port" "$work/pohmelfs" "${mount_options[@]}"
grep -qs " $work/pohmelfs fuse.pohmelfs " /proc/mounts || { say "the pohmelfs mount is not there"; exit 1; }
targets+=("$work/pohmelfs")
names+=(pohmelfs)
say "pohmelfs: $work/export served on 127.0.0.1:$port, mounted at $work/pohmelfs"

# A second pohmelfs, its own server and mount, with other -o options, measured in the same run
# as "pohmelfs-before" (POHMELFS_BENCH_BEFORE_OPTIONS=leases=off: before and after side by side).
if [ -n "${POHMELFS_BENCH_BEFORE_OPTIONS:-}" ] || [ -n "${POHMELFS_BENCH_BEFORE_BIN:-}" ]; then
    before_bin=${POHMELFS_BENCH_BEFORE_BIN:-$bin}
    [ -x "$before_bin" ] || { say "POHMELFS_BENCH_BEFORE_BIN: $before_bin is not an executable"; exit 1; }
    before_options=()
    [ -n "${POHMELFS_BENCH_BEFORE_OPTIONS:-}" ] && before_options=(-o "$POHMELFS_BENCH_BEFORE_OPTIONS")
    mkdir -p "$work/export-before" "$work/state-before" "$work/pohmelfs-before"
    before_port=$(free_port)
    "$before_bin" serve --export "$work/export-before" --listen "127.0.0.1:$before_port" \
        --state-dir "$work/state-before" >"$work/serve-before.log" 2>&1 &
    before_serve_pid=$!
    for _ in $(seq 100); do grep -q "listening" "$work/serve-before.log" && break; sleep 0.1; done
    "$before_bin" mount "127.0.0.1:$before_port" "$work/pohmelfs-before" "${before_options[@]}"
    grep -qs " $work/pohmelfs-before fuse.pohmelfs " /proc/mounts || { say "the second pohmelfs mount is not there"; exit 1; }
    targets+=("$work/pohmelfs-before")
    names+=(pohmelfs-before)
    say "pohmelfs-before: $before_bin ${before_options[*]}, mounted at $work/pohmelfs-before"
fi

# --- sshfs over loopback ----------------------------------------------------------------------
start_sshfs() {
    command -v sshfs >/dev/null && [ -x /usr/sbin/sshd ] || { say "sshfs or sshd is missing"; return 1; }
    local ssh="$work/ssh"
    mkdir -p "$ssh" "$work/sshfs-export" "$work/sshfs"
    chmod 700 "$ssh"
    ssh-keygen -q -t ed25519 -N '' -C pohmelfs-bench-host -f "$ssh/host_key"
    ssh-keygen -q -t ed25519 -N '' -C pohmelfs-bench-client -f "$ssh/client_key"
    cp "$ssh/client_key.pub" "$ssh/authorized_keys"
    chmod 600 "$ssh/authorized_keys"
    local ssh_port
    ssh_port=$(free_port)
    cat >"$ssh/sshd_config" <<CONFIG
ListenAddress 127.0.0.1
Port $ssh_port
HostKey $ssh/host_key
AuthorizedKeysFile $ssh/authorized_keys
PidFile $ssh/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
CONFIG
    # sshd's privilege-separation directory.
    [ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
    /usr/sbin/sshd -D -e -f "$ssh/sshd_config" >"$work/sshd.log" 2>&1 &
    sshd_pid=$!
    if ! wait_for_port "$ssh_port"; then
        cat "$work/sshd.log" >&2
        say "sshd did not start on 127.0.0.1:$ssh_port"
        return 1
    fi
    local options="StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,IdentityFile=$ssh/client_key"
    options+=",BatchMode=yes,LogLevel=ERROR"
    local tuning="max_conns=4,Ciphers=aes128-gcm@openssh.com,Compression=no"
    local user
    user=$(id -un)
    if ! sshfs -p "$ssh_port" -o "$options,$tuning" "$user@127.0.0.1:$work/sshfs-export" "$work/sshfs" \
        2>"$work/sshfs.log"; then
        # An sshfs without max_conns (before 3.7) still makes a fair peer.
        sshfs -p "$ssh_port" -o "$options,Ciphers=aes128-gcm@openssh.com,Compression=no" \
            "$user@127.0.0.1:$work/sshfs-export" "$work/sshfs" 2>>"$work/sshfs.log" ||
            { cat "$work/sshfs.log" >&2; say "sshfs could not mount"; return 1; }
    fi
    grep -qs " $work/sshfs fuse.sshfs " /proc/mounts || { say "the sshfs mount is not there"; return 1; }
    say "sshfs: $work/sshfs-export through sshd on 127.0.0.1:$ssh_port, mounted at $work/sshfs"
}
if start_sshfs; then
    targets+=("$work/sshfs")
    names+=(sshfs)
else
    say "without sshfs: the other targets only"
fi

# --- RSS sampling -----------------------------------------------------------------------------
# The pid of the process whose command line has all of the given words, or nothing.
pid_with_words() {
    local process words
    for process in /proc/[0-9]*; do
        words=$(tr '\0' ' ' <"$process/cmdline" 2>/dev/null) || continue
        local all=1 word
        for word in "$@"; do [[ " $words " == *" $word "* ]] || { all=0; break; }; done
        [ "$all" -eq 1 ] && { echo "${process#/proc/}"; return 0; }
    done
}
client_pid=$(pid_with_words mount "127.0.0.1:$port" "$work/pohmelfs")
sshfs_pid=$(pid_with_words sshfs "$work/sshfs")
sample_rss() {
    local name pid kib
    while :; do
        for name in pohmelfs-client:$client_pid pohmelfs-server:$serve_pid sshfs-client:$sshfs_pid \
            passthrough_ll:$passthrough_pid; do
            pid=${name#*:}
            [ -n "$pid" ] || continue
            kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
            [ -n "$kib" ] && echo "${name%%:*} $kib"
        done
        sleep 0.5
    done >"$work/rss.log"
}
sample_rss &
sampler_pid=$!

# --- the tarball ------------------------------------------------------------------------------
mkdir -p "$cache"
tarball="$cache/tree-$(printf '%s' "$tar_source" | md5sum | cut -c1-8).tar"
if [ ! -s "$tarball" ]; then
    say "making $tarball from $tar_source (once)"
    tar -cf "$tarball.tmp" -C "$tar_source" . && mv "$tarball.tmp" "$tarball"
fi

# --- a local git repository for git clone and git status --------------------------------------
# The project's own sources in a one-commit bare repository, made once (a few hundred files).
repo="$cache/sources.git"
if [ ! -d "$repo" ] && command -v git >/dev/null; then
    say "making $repo from $top/Sources and $top/Tests (once)"
    rm -rf "$work/repo-src" "$repo.tmp"
    mkdir -p "$work/repo-src"
    cp -r "$top/Sources" "$top/Tests" "$work/repo-src/"
    git -C "$work/repo-src" init -q &&
        git -C "$work/repo-src" add -A &&
        git -C "$work/repo-src" -c user.name=bench -c user.email=bench@localhost commit -q -m sources &&
        git clone -q --bare "$work/repo-src" "$repo.tmp" && mv "$repo.tmp" "$repo"
    rm -rf "$work/repo-src"
fi
repo_args=()
[ -d "$repo" ] && repo_args=(--repo "$repo")

# --- CPU per operation ------------------------------------------------------------------------
# `pohmelfs bench --cpu TARGET=ROLE:PID` reads these processes' CPU time (/proc/PID/stat) around
# each figure: the pohmelfs server and client, passthrough_ll's daemon, sshfs and the sshd
# processes serving its connections (internal-sftp: the file I/O and the crypto are theirs).
cpu_args=()
[ -n "$client_pid" ] && cpu_args+=(--cpu "$work/pohmelfs=server:$serve_pid,client:$client_pid")
[ -n "$passthrough_pid" ] && cpu_args+=(--cpu "$work/passthrough=daemon:$passthrough_pid")
if [ -n "$before_serve_pid" ]; then
    before_client_pid=$(pid_with_words mount "127.0.0.1:$before_port" "$work/pohmelfs-before")
    [ -n "$before_client_pid" ] &&
        cpu_args+=(--cpu "$work/pohmelfs-before=server:$before_serve_pid,client:$before_client_pid")
fi
if [ -n "$sshfs_pid" ]; then
    sshfs_cpu="client:$sshfs_pid"
    if [ -n "$sshd_pid" ]; then
        # Each connection's sshd and its privilege-separated child: two generations below ours.
        for child in $(ps -o pid= --ppid "$sshd_pid" 2>/dev/null); do
            sshfs_cpu+=",server:$child"
            for grandchild in $(ps -o pid= --ppid "$child" 2>/dev/null); do sshfs_cpu+=",server:$grandchild"; done
        done
    fi
    cpu_args+=(--cpu "$work/sshfs=$sshfs_cpu")
fi

# --- the bench --------------------------------------------------------------------------------
say "running: pohmelfs bench ${targets[*]} --json ${cpu_args[*]} ${bench_args[*]}"
status=0
"$bin" bench "${targets[@]}" --json "${cpu_args[@]}" "${bench_args[@]}" >"$work/bench.json" || status=$?
external=()
for index in "${!targets[@]}"; do external+=(--target "${names[$index]}=${targets[$index]}"); done
say "running: bench_external.py (tar -xf, cp -r, find, du, git clone and status, rm -rf, dbench)"
external_status=0
python3 "$top/packaging/bench_external.py" "${external[@]}" --tarball "$tarball" --scratch "$work/scratch" \
    --runs "$runs" --dbench-seconds "$dbench_seconds" --dbench-clients "$dbench_clients" "${repo_args[@]}" \
    >"$work/external.json" || external_status=$?
kill "$sampler_pid" 2>/dev/null
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""
if [ -n "${POHMELFS_BENCH_OUT:-}" ]; then
    mkdir -p "$POHMELFS_BENCH_OUT"
    cp "$work/bench.json" "$work/external.json" "$work/rss.log" "$POHMELFS_BENCH_OUT/"
fi
if [ -s "$work/bench.json" ]; then
    names_list=$(IFS=,; echo "${names[*]}")
    python3 "$top/packaging/bench_targets.py" --bench "$work/bench.json" --names "$names_list" \
        --external "$work/external.json" --rss "$work/rss.log"
fi
[ "$status" -ne 0 ] || status=$external_status
exit "$status"
