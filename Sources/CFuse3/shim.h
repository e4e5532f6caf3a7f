#ifndef POHMELFS_CFUSE3_SHIM_H
#define POHMELFS_CFUSE3_SHIM_H

/* libfuse 3.14 (Debian 12) speaks API 3.5 comfortably; every libfuse call the project makes
 * goes through this header or Sources/pohmelfs/Mount, so a newer libfuse that turns more
 * entry points into macros only needs wrappers here. */
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <fuse_opt.h>

/* fuse_session_loop_mt is a macro in newer libfuse; keep the call stable for Swift. */
static inline int pohmelfs_fuse_session_loop(struct fuse_session *se) {
    return fuse_session_loop(se);
}

/* One request read by the caller (the event loop's /dev/fuse channel), handed to libfuse. */
static inline void pohmelfs_fuse_process(struct fuse_session *se, void *mem, size_t size) {
    struct fuse_buf buf = {.size = size, .flags = 0, .mem = mem, .fd = -1, .pos = 0};
    fuse_session_process_buf(se, &buf);
}

/* FUSE_ARGS_INIT is a macro. */
static inline struct fuse_args pohmelfs_fuse_args(int argc, char **argv) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    return args;
}

#endif
