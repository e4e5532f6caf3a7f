/* libcephfs, opened when the CephFS store is asked for instead of linked into every process.
 *
 * Each libcephfs function the Swift code calls (CephFSFunctions.h) is defined here under its own
 * name and calls libcephfs's function through a pointer `pohmelfs_ceph_load` found with `dlsym`.
 * The definitions are hidden (not exported from the executable), so libcephfs's own calls
 * between its functions never land here. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#pragma GCC visibility push(hidden)
#include "include/CCephFS.h"
#pragma GCC visibility pop

/* The soname of Ceph 16's libcephfs (Debian 12's libcephfs2). */
static const char library_name[] = "libcephfs.so.2";

/* libcephfs's functions, found by `load`. */
#define POHMELFS_CEPH_FORWARD(ret, name, params, args) static __typeof__(&name) real_##name;
#define POHMELFS_CEPH_FORWARD_VOID(name, params, args) static __typeof__(&name) real_##name;
#include "CephFSFunctions.h"
#undef POHMELFS_CEPH_FORWARD
#undef POHMELFS_CEPH_FORWARD_VOID

static const struct {
    const char *name;
    void **pointer;
} functions[] = {
#define POHMELFS_CEPH_FORWARD(ret, name, params, args) {#name, (void **)&real_##name},
#define POHMELFS_CEPH_FORWARD_VOID(name, params, args) {#name, (void **)&real_##name},
#include "CephFSFunctions.h"
#undef POHMELFS_CEPH_FORWARD
#undef POHMELFS_CEPH_FORWARD_VOID
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[512];

static void load(void) {
    void *library = dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(load_error, sizeof load_error, "%s", dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        void *found = dlsym(library, functions[i].name);
        if (found == NULL) {
            snprintf(load_error, sizeof load_error, "%s has no %s", library_name, functions[i].name);
            return;
        }
        *functions[i].pointer = found;
    }
    loaded = true;
}

int pohmelfs_ceph_load(const char **error) {
    pthread_once(&once, load);
    if (loaded) return 0;
    *error = load_error;
    return -1;
}

/* A call before a successful `pohmelfs_ceph_load` is a bug in the caller: say so and stop. */
static void missing(const char *name) {
    fprintf(stderr, "pohmelfs: %s called before libcephfs was loaded\n", name);
    abort();
}

#define POHMELFS_CEPH_FORWARD(ret, name, params, args) \
    ret name params {                                  \
        if (real_##name == NULL) missing(#name);       \
        return real_##name args;                       \
    }
#define POHMELFS_CEPH_FORWARD_VOID(name, params, args) \
    void name params {                                 \
        if (real_##name == NULL) missing(#name);       \
        real_##name args;                              \
    }
#include "CephFSFunctions.h"
