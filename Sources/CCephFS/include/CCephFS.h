#ifndef POHMELFS_CCEPHFS_H
#define POHMELFS_CCEPHFS_H

/* libcephfs from Debian's libcephfs-dev (Ceph 16.2, Debian 12): its declarations only. The
 * executable does not link libcephfs: `pohmelfs_ceph_load` opens it (`dlopen`) when the CephFS
 * store is asked for, and the functions declared here are defined in CephFSLoader.c, each calling
 * libcephfs's own. So a mount, or a server of a local directory, neither needs libcephfs installed
 * nor carries its ~7 MiB of resident pages. The CephFS store (Sources/Core/Server/CephFSStore)
 * uses only the ll_ API plus mount set-up. */
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

/* Opens libcephfs (once; thread-safe) and finds every function this project calls. 0 on
 * success; otherwise -1 and `*error` says why (the library is missing, or lacks a function).
 * Call before any other function of this header. */
int pohmelfs_ceph_load(const char **error);

/* vinodeno_t is a struct of structs; build it here so Swift passes two integers. */
static inline int pohmelfs_ceph_lookup_vino(struct ceph_mount_info *cmount, uint64_t ino, uint64_t snapid,
                                            struct Inode **out) {
    vinodeno_t vino;
    vino.ino.val = ino;
    vino.snapid.val = snapid;
    return ceph_ll_lookup_vino(cmount, vino, out);
}

#endif
