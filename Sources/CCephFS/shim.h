#ifndef POHMELFS_CCEPHFS_SHIM_H
#define POHMELFS_CCEPHFS_SHIM_H

/* libcephfs from Debian's libcephfs-dev (Ceph 16.2, Debian 12). Debian ships no pkg-config
 * file for it, so the target names the library itself (`link "cephfs"`). The CephFS store
 * (Sources/Core/Server/CephFSStore) uses only the ll_ API plus mount set-up. */
#include <features.h>
#include <utime.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/statvfs.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdbool.h>
#include <fcntl.h>
#include <dirent.h>
/* libcephfs.h refuses to compile unless glibc was configured with _FILE_OFFSET_BITS=64, for
 * fear of a 32-bit `struct dirent`. On the 64-bit targets this project builds for (x86_64,
 * aarch64) `struct dirent` is already the 64-bit layout, and Swift's Glibc module is built
 * without that macro, so the glibc headers are included above as they are and the check is
 * satisfied for this one include only. */
#if !defined(__LP64__)
#error "CCephFS: only 64-bit targets are supported"
#endif
#ifndef __USE_FILE_OFFSET64
#define __USE_FILE_OFFSET64 1
#define POHMELFS_DEFINED_FILE_OFFSET64 1
#endif
#include <cephfs/libcephfs.h>
#ifdef POHMELFS_DEFINED_FILE_OFFSET64
#undef __USE_FILE_OFFSET64
#undef POHMELFS_DEFINED_FILE_OFFSET64
#endif

/* vinodeno_t is a struct of structs; build it here so Swift passes two integers. */
static inline int pohmelfs_ceph_lookup_vino(struct ceph_mount_info *cmount, uint64_t ino, uint64_t snapid,
                                            struct Inode **out) {
    vinodeno_t vino;
    vino.ino.val = ino;
    vino.snapid.val = snapid;
    return ceph_ll_lookup_vino(cmount, vino, out);
}

#endif
