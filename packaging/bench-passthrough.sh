#!/usr/bin/env bash
# Builds libfuse's passthrough_ll example, the FUSE ceiling that `make bench` compares against:
# a FUSE filesystem that forwards every request to a local directory, so the only cost over the
# local directory is FUSE itself. No network filesystem can beat it on a round trip.
#
#   packaging/bench-passthrough.sh OUTDIR    builds OUTDIR/passthrough_ll (when missing or older
#                                            than its source) and prints its path
#
# The source is the example Debian's libfuse3-dev ships (plain or gzipped) under
# /usr/share/doc/libfuse3-dev/examples; it is compiled with gcc and never copied into the
# repository. BENCH_PASSTHROUGH_SOURCE names another passthrough_ll.c (tests use it).
set -euo pipefail

say() { echo "bench-passthrough: $*" >&2; }

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
examples=/usr/share/doc/libfuse3-dev/examples
source=${BENCH_PASSTHROUGH_SOURCE:-}
if [ -z "$source" ]; then
    for candidate in "$examples/passthrough_ll.c" "$examples/passthrough_ll.c.gz"; do
        [ -e "$candidate" ] && { source=$candidate; break; }
    done
fi
[ -n "$source" ] && [ -e "$source" ] ||
    { say "no passthrough_ll.c under $examples (apt-get install libfuse3-dev)"; exit 1; }
command -v gcc >/dev/null || { say "gcc is missing (apt-get install gcc)"; exit 1; }
pkg-config --exists fuse3 || { say "pkg-config cannot find fuse3 (apt-get install libfuse3-dev pkg-config)"; exit 1; }

mkdir -p "$out"
binary="$out/passthrough_ll"
if [ ! -x "$binary" ] || [ "$source" -nt "$binary" ]; then
    # The example includes passthrough_helpers.h from its own directory: compile it there (or
    # from a gunzipped copy next to the binary), with the example directory on the include path.
    unpacked="$out/passthrough_ll.c"
    case "$source" in
        *.gz) gzip -dc "$source" >"$unpacked" ;;
        *) cp "$source" "$unpacked" ;;
    esac
    # shellcheck disable=SC2046  # pkg-config prints several words on purpose
    gcc -O2 -Wall -I"$(dirname "$source")" -I"$examples" "$unpacked" -o "$binary.tmp" \
        $(pkg-config fuse3 --cflags --libs) >&2 || { say "gcc failed on $source"; exit 1; }
    mv "$binary.tmp" "$binary"
    rm -f "$unpacked"
fi
echo "$binary"
