#!/usr/bin/env bash
# `make deb`: builds OUTDIR/pohmelfs_<version>_<arch>.deb with dpkg-deb from a staging root.
#
#   POHMELFS_BIN=.build/release/pohmelfs packaging/build-deb.sh OUTDIR
#
# Builds nothing: POHMELFS_BIN is the binary to package (make deb passes the release build,
# linked with --static-swift-stdlib so the package needs no Swift runtime). The version is
# what `pohmelfs --version` prints; the architecture is dpkg's.
#
# Contents (`make install-files` with PREFIX=/usr into the staging root, then Debian's habits):
#   /usr/bin/pohmelfs                          the binary
#   /sbin/mount.fuse.pohmelfs                  mount(8) helper, calling /usr/bin/pohmelfs
#   /lib/systemd/system/pohmelfs-server.service, pohmelfs-mount@.service
#   /usr/share/man/man1/pohmelfs*.1.gz         man pages
#   /usr/share/man/man8/mount.fuse.pohmelfs.8.gz
#   /usr/share/bash-completion/completions/pohmelfs, /usr/share/zsh/vendor-completions/_pohmelfs,
#   /usr/share/fish/vendor_completions.d/pohmelfs.fish
#   /etc/default/pohmelfs                      a conffile: dpkg keeps the administrator's edits
#   /usr/share/doc/pohmelfs/README.md.gz
#
# Depends: the shared libraries the binary links, as dpkg-shlibdeps names them (libfuse3-3,
# libsystemd0, libc6, libstdc++6, libgcc-s1, with versions), plus fuse3 for fusermount3 and
# /dev/fuse's setup. Without dpkg-shlibdeps (package dpkg-dev) a fixed list is used.
# Suggests: libcephfs2, which the binary opens only for `serve --store cephfs` (not linked).
# Maintainer scripts only reload systemd; no service is enabled or started by installing.
# DEB_MAINTAINER sets the Maintainer field (default: a placeholder address).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: POHMELFS_BIN=... $0 OUTDIR" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
bin=${POHMELFS_BIN:?set POHMELFS_BIN to the binary to package}
[ -x "$bin" ] || { echo "build-deb.sh: $bin is not built" >&2; exit 1; }
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac

version=$("$bin" --version)
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "build-deb.sh: odd version '$version'" >&2; exit 1; }
arch=$(dpkg --print-architecture)
package="pohmelfs_${version}_${arch}.deb"
# Whoever publishes the package should say who they are.
maintainer=${DEB_MAINTAINER:-"pohmelfs maintainers <maintainers@pohmelfs.invalid>"}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

make --no-print-directory -C "$top" install-files DESTDIR="$root" PREFIX=/usr UNITDIR=/lib/systemd/system \
    INSTALL_BIN="$bin" >/dev/null
# Debian's places and habits: zsh's vendor directory, compressed man pages and docs, a stripped
# binary (the symbols are for a debug package this does not build).
mv "$root/usr/share/zsh/site-functions" "$root/usr/share/zsh/vendor-completions"
gzip -9n "$root"/usr/share/man/man1/*.1 "$root"/usr/share/man/man8/*.8
install -D -m 0644 "$top/README.md" "$root/usr/share/doc/pohmelfs/README.md"
gzip -9n "$root/usr/share/doc/pohmelfs/README.md"
strip --strip-unneeded "$root/usr/bin/pohmelfs"

depends=""
if command -v dpkg-shlibdeps >/dev/null; then
    mkdir -p "$work/src/debian"
    printf 'Source: pohmelfs\n\nPackage: pohmelfs\nArchitecture: any\n' >"$work/src/debian/control"
    depends=$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/bin/pohmelfs" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
fi
[ -n "$depends" ] || depends="libc6, libfuse3-3, libgcc-s1, libstdc++6, libsystemd0"
depends="fuse3, $depends"

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: pohmelfs
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Suggests: libcephfs2
Section: net
Priority: optional
Description: network filesystem with a coherent client cache and atomic writes
 pohmelfs exports a directory over TCP (pohmelfs serve) and mounts it with
 FUSE (pohmelfs mount, or mount -t fuse.pohmelfs and /etc/fstab). Requests
 are pipelined on one connection; the server keeps overlapping writes atomic
 with page-range locks and invalidates other clients' cached pages before it
 acknowledges a change. POSIX, OFD and flock locks work across clients.
 .
 Includes systemd units (pohmelfs-server.service, pohmelfs-mount@.service),
 a Prometheus metrics endpoint (pohmelfs serve --metrics), man pages and
 shell completions.
EOF
echo /etc/default/pohmelfs >"$root/DEBIAN/conffiles"
for script in postinst postrm; do
    cat >"$root/DEBIAN/$script" <<'EOF'
#!/bin/sh
set -e
# New or removed unit files: let a running systemd see them. Nothing is enabled or started.
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null 2>&1 || true
fi
exit 0
EOF
    chmod 0755 "$root/DEBIAN/$script"
done

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/$package" >/dev/null
echo "$out/$package"
