#!/usr/bin/env bash
# `make bench`: runs `pohmelfs bench` over a local directory, a pohmelfs mount and an sshfs mount,
# all on this machine over loopback, and tears everything down afterwards, whatever happens.
#
#   POHMELFS_BIN=.build/release/pohmelfs packaging/bench-setup.sh [pohmelfs bench options...]
#
# Builds nothing. Everything lives in one temporary directory (under $POHMELFS_BENCH_DIR, default
# $TMPDIR or /tmp, so that the local directory, the pohmelfs export and the sshfs export share one
# disk): the local target, the pohmelfs export, state and mountpoint, the sshfs export and
# mountpoint, a private sshd with a throwaway host key and client key, and the logs.
#
# sshfs: installs sshfs and openssh-server with apt-get when missing (as root, without letting the
# package start the system's sshd), runs its own sshd on 127.0.0.1 on a free port, and mounts with
# the settings of the performance issue (max_conns=4, AES-GCM, no compression). Without sshfs it
# says so and compares the other two. Every address is loopback.
#
# Extra arguments go to `pohmelfs bench` (e.g. --size 256M --runs 1 --plot bench.svg); the exit
# status is the bench's.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${POHMELFS_BIN:-"$top/.build/release/pohmelfs"}
case "$bin" in /*) ;; *) bin="$top/$bin" ;; esac

say() { echo "bench-setup: $*" >&2; }

[ -x "$bin" ] || { say "$bin is not built (build it, or set POHMELFS_BIN)"; exit 1; }
command -v fusermount3 >/dev/null || { say "fusermount3 is missing (apt-get install fuse3)"; exit 1; }

base=${POHMELFS_BENCH_DIR:-${TMPDIR:-/tmp}}
work=$(mktemp -d "$base/pohmelfs-bench-setup.XXXXXX")
serve_pid=""
sshd_pid=""

# Unmounts, stops and removes everything this script started, in reverse order. Runs on every
# exit: success, failure, or a signal.
teardown() {
    local status=$?
    set +e
    for mountpoint in "$work/sshfs" "$work/pohmelfs"; do
        if grep -qs " $mountpoint fuse" /proc/mounts; then
            fusermount3 -u "$mountpoint" 2>/dev/null || fusermount3 -u -z "$mountpoint"
        fi
    done
    for pid in "$sshd_pid" "$serve_pid"; do
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

# --- the local directory ----------------------------------------------------------------------
mkdir -p "$work/local"
targets=("$work/local")

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
"$bin" mount "127.0.0.1:$port" "$work/pohmelfs"
grep -qs " $work/pohmelfs fuse.pohmelfs " /proc/mounts || { say "the pohmelfs mount is not there"; exit 1; }
targets+=("$work/pohmelfs")
say "pohmelfs: $work/export served on 127.0.0.1:$port, mounted at $work/pohmelfs"

# --- sshfs over loopback ----------------------------------------------------------------------
# Installs sshfs and openssh-server when missing; returns non-zero when they cannot be had.
ensure_sshfs() {
    command -v sshfs >/dev/null && [ -x /usr/sbin/sshd ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        say "sshfs or sshd is missing and cannot be installed here (needs root and apt-get)"
        return 1
    fi
    say "installing sshfs and openssh-server"
    # Keep the package from starting the system's sshd (which would listen on every address).
    local policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
    fi
    local ok=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sshfs openssh-server \
        >"$work/apt.log" 2>&1 ||
        { apt-get update -q >>"$work/apt.log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sshfs openssh-server \
                >>"$work/apt.log" 2>&1; } || ok=1
    [ -n "$policy" ] && rm -f "$policy"
    if [ "$ok" -ne 0 ]; then
        tail -n 5 "$work/apt.log" >&2
        say "could not install sshfs and openssh-server"
        return 1
    fi
}

start_sshfs() {
    local ssh="$work/ssh"
    mkdir -p "$ssh" "$work/sshfs-export" "$work/sshfs"
    chmod 700 "$ssh"
    ssh-keygen -q -t ed25519 -N '' -C pohmelfs-bench-host -f "$ssh/host_key"
    ssh-keygen -q -t ed25519 -N '' -C pohmelfs-bench-client -f "$ssh/client_key"
    cp "$ssh/client_key.pub" "$ssh/authorized_keys"
    chmod 600 "$ssh/authorized_keys"
    local ssh_port
    ssh_port=$(free_port)
    cat >"$ssh/sshd_config" <<EOF
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
EOF
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

if ensure_sshfs && start_sshfs; then
    targets+=("$work/sshfs")
else
    say "without sshfs: comparing the local directory and pohmelfs only"
fi

# --- the bench --------------------------------------------------------------------------------
say "running: pohmelfs bench ${targets[*]} $*"
status=0
"$bin" bench "${targets[@]}" "$@" || status=$?
exit "$status"
