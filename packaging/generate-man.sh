#!/usr/bin/env bash
# Writes the man pages pohmelfs(1), pohmelfs-serve(1), pohmelfs-mount(1), pohmelfs-locks(1) and
# pohmelfs-bench(1) into OUTDIR, generated from the binary's argument parser.
#
#   POHMELFS_BIN=.build/debug/pohmelfs packaging/generate-man.sh OUTDIR
#
# The generator is swift-argument-parser's `generate-manual` tool, the one its GenerateManual
# plugin runs (`swift package plugin generate-manual --multi-page` works here too, but only
# writes under .build/plugins/ and only for the binary it builds itself). This script builds
# the tool (`swift build --product generate-manual`, a few seconds once), runs it on
# POHMELFS_BIN, then renames its pages the way git and systemd name theirs:
# `pohmelfs.serve.1` becomes `pohmelfs-serve.1` (and every .Dt/.Xr with it), and the page of
# the implicit `help` subcommand is dropped.
#
# The .Dd date is the date of the last commit that touched the command-line definition
# (Sources/pohmelfs), so regenerating an unchanged CLI gives identical files; POHMELFS_MAN_DATE
# (yyyy-mm-dd) overrides it. `make man` runs this into packaging/man; a test runs it into a
# temporary directory and compares, ignoring the .Dd line.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: POHMELFS_BIN=... $0 OUTDIR" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
bin=${POHMELFS_BIN:-"$top/.build/debug/pohmelfs"}
[ -x "$bin" ] || { echo "generate-man.sh: $bin is not built" >&2; exit 1; }

swift=${SWIFT:-swift}
tools=$(cd "$top" && "$swift" build --product generate-manual --show-bin-path)
if [ ! -x "$tools/generate-manual" ]; then
    (cd "$top" && "$swift" build --product generate-manual >&2)
fi

date=${POHMELFS_MAN_DATE:-$(git -C "$top" log -1 --format=%cs -- Sources/pohmelfs 2>/dev/null || true)}
[ -n "$date" ] || date=$(date -u +%F)

raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
"$tools/generate-manual" "$bin" --multi-page --date "$date" --output-directory "$raw"

mkdir -p "$out"
rm -f "$out"/pohmelfs.1 "$out"/pohmelfs-*.1
version=$("$bin" --version)
sections="$top/packaging/man/sections"
# A hand-written sections file, with its `.so sections/NAME` lines replaced by NAME's text.
expand() {
    while IFS= read -r line; do
        case "$line" in
            ".so sections/"*) cat "$sections/${line#.so sections/}" ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <"$1"
}
for page in "$raw"/*.1; do
    name=$(basename "$page" .1)
    [ "$name" = pohmelfs.help ] && continue
    # pohmelfs.serve -> pohmelfs-serve in the file name, the title and every cross-reference;
    # the reference to the dropped help page goes, and the list's last comma with it.
    sed -e 's/^\(\.Dt POHMELFS\)\./\1-/' \
        -e 's/^\(\.Xr pohmelfs\)\./\1-/' \
        -e '/^\.Xr pohmelfs-help 1/d' \
        "$page" | awk '
            { lines[NR] = $0 }
            END {
                last = 0
                for (i = 1; i <= NR; i++) if (lines[i] ~ /^\.Xr /) last = i
                if (last) sub(/ ,$/, "", lines[last])
                for (i = 1; i <= NR; i++) print lines[i]
            }' >"$out/${name//./-}.1"
    # What a sysadmin reads beyond --help: packaging/man/sections/PAGE.mdoc (EXIT STATUS,
    # ENVIRONMENT, FILES, EXAMPLES, SEE ALSO, and for mount its MOUNT OPTIONS) replaces the
    # generated one-line EXIT STATUS. The header names pohmelfs: the groff mdoc string that
    # would say "BSD General Commands Manual", and .Os for the footer.
    base=${name//./-}
    extra=/dev/null
    if [ -f "$sections/$base.mdoc" ]; then
        extra="$raw/$base.extra"
        expand "$sections/$base.mdoc" >"$extra"
    fi
    awk -v extra="$extra" -v os="pohmelfs $version" '
        /^\.Dt / { print ".ds doc-volume-operating-system pohmelfs" }
        /^\.Os$/ { print ".Os " os; next }
        /^$/ { print ".Pp"; next }
        /^\.Sh "EXIT STATUS"$/ && extra != "/dev/null" {
            while ((getline line < extra) > 0) print line
            skip = 1
            next
        }
        skip && /^\.Sh / { skip = 0 }
        skip { next }
        { print }' "$out/$base.1" >"$raw/$base.final"
    mv "$raw/$base.final" "$out/$base.1"
done
