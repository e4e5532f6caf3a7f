#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/openat2.h>

int pohmelfs_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int pohmelfs_thread_setfsuid(uid_t uid) {
    syscall(SYS_setfsuid, uid);
    if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != uid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

int pohmelfs_thread_setfsgid(gid_t gid) {
    syscall(SYS_setfsgid, gid);
    if ((gid_t)syscall(SYS_setfsgid, (gid_t)-1) != gid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

int pohmelfs_thread_setgroups(size_t count, const gid_t *groups) {
    return (int)syscall(SYS_setgroups, count, groups);
}

int pohmelfs_name_to_handle_at(int dirfd, const char *name, int flags, unsigned char *out, unsigned capacity,
                               int *type, int *mount_id) {
    unsigned char storage[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    struct file_handle *fh = (struct file_handle *)storage;
    fh->handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(dirfd, name, fh, mount_id, flags) != 0) return -1;
    if (fh->handle_bytes > capacity) {
        errno = EOVERFLOW;
        return -1;
    }
    memcpy(out, fh->f_handle, fh->handle_bytes);
    *type = fh->handle_type;
    return (int)fh->handle_bytes;
}

int pohmelfs_open_by_handle_at(int mount_fd, const unsigned char *handle, unsigned length, int type, int flags) {
    unsigned char storage[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    struct file_handle *fh = (struct file_handle *)storage;
    if (length > MAX_HANDLE_SZ) {
        errno = ESTALE;
        return -1;
    }
    fh->handle_bytes = length;
    fh->handle_type = type;
    memcpy(fh->f_handle, handle, length);
    return open_by_handle_at(mount_fd, fh, flags);
}

int pohmelfs_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

int pohmelfs_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, offset, length);
}

int64_t pohmelfs_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len,
                                 unsigned flags) {
    loff_t in = off_in ? *off_in : 0, out = off_out ? *off_out : 0;
    ssize_t n = copy_file_range(fd_in, off_in ? &in : NULL, fd_out, off_out ? &out : NULL, len, flags);
    if (off_in) *off_in = in;
    if (off_out) *off_out = out;
    return n;
}

int pohmelfs_umount2(const char *target, int flags) { return umount2(target, flags); }

static void pohmelfs_do_nothing(int signo) { (void)signo; }

int pohmelfs_install_interrupt_handler(int signo) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = pohmelfs_do_nothing;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; /* no SA_RESTART */
    return sigaction(signo, &action, NULL);
}

int pohmelfs_unblock_signal(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int pohmelfs_syncfs(int fd) { return syncfs(fd); }

int pohmelfs_linkat_empty_path(int fd, int newdirfd, const char *newname) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct saved[_LINUX_CAPABILITY_U32S_3];
    struct __user_cap_data_struct raised[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, saved) != 0) return -1;
    memcpy(raised, saved, sizeof(saved));
    raised[CAP_TO_INDEX(CAP_DAC_READ_SEARCH)].effective |= CAP_TO_MASK(CAP_DAC_READ_SEARCH);
    if (syscall(SYS_capset, &header, raised) != 0) return -1;
    int result = linkat(fd, "", newdirfd, newname, AT_EMPTY_PATH);
    int saved_errno = errno;
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    if (syscall(SYS_capset, &header, saved) != 0) abort();  /* never keep a raised capability */
    errno = saved_errno;
    return result;
}

int64_t pohmelfs_pread_nowait(int fd, void *buffer, size_t length, int64_t offset) {
    struct iovec vector = {buffer, length};
    return preadv2(fd, &vector, 1, (off_t)offset, RWF_NOWAIT);
}

int pohmelfs_set_heap_thresholds(int mmap_threshold, int trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold);
}

int pohmelfs_trim_heap(void) {
    return malloc_trim(0);
}

int pohmelfs_is_memory_filesystem(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return info.f_type == TMPFS_MAGIC || info.f_type == RAMFS_MAGIC;
}
