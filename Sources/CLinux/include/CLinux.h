#ifndef POHMELFS_CLINUX_H
#define POHMELFS_CLINUX_H

/* Linux system calls that Swift cannot reach through Glibc: variadic `syscall`, calls glibc
 * hides behind _GNU_SOURCE, and per-thread credential changes (glibc's setgroups applies to every
 * thread of the process; the raw system call applies to the calling thread only, which is what a
 * server that acts for many users on a thread pool needs). Every function returns the kernel's
 * result: -1 with errno set on failure. */

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/xattr.h>

/* openat2(2) with RESOLVE_* flags. */
int pohmelfs_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/* Per-thread credentials. setfsuid/setfsgid return the previous id and never fail visibly, so
 * these helpers verify the change and return -1/EPERM when it did not take. */
int pohmelfs_thread_setfsuid(uid_t uid);
int pohmelfs_thread_setfsgid(gid_t gid);
int pohmelfs_thread_setgroups(size_t count, const gid_t *groups);

/* name_to_handle_at(2): writes the opaque handle into `out` (at most `capacity` bytes) and its
 * type into `type`; returns the handle length. */
int pohmelfs_name_to_handle_at(int dirfd, const char *name, int flags, unsigned char *out, unsigned capacity,
                               int *type, int *mount_id);
/* open_by_handle_at(2) from a handle produced by pohmelfs_name_to_handle_at. */
int pohmelfs_open_by_handle_at(int mount_fd, const unsigned char *handle, unsigned length, int type, int flags);

int pohmelfs_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags);
int pohmelfs_fallocate(int fd, int mode, int64_t offset, int64_t length);
/// preadv2(RWF_NOWAIT) of one buffer: reads only what the page cache holds, -1/EAGAIN when the
/// first byte would need I/O (or the filesystem cannot say). The server's event-loop reads.
int64_t pohmelfs_pread_nowait(int fd, void *buffer, size_t length, int64_t offset);
int64_t pohmelfs_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len,
                                 unsigned flags);
int pohmelfs_umount2(const char *target, int flags);
/* Interrupting a thread blocked in read(2): `signo` gets a handler that does nothing, installed
 * without SA_RESTART (so the read returns EINTR), and is unblocked in the calling thread. */
int pohmelfs_install_interrupt_handler(int signo);
int pohmelfs_unblock_signal(int signo);
int pohmelfs_syncfs(int fd);
/* 1 when `fd` is on tmpfs or ramfs (fstatfs f_type TMPFS_MAGIC or RAMFS_MAGIC), 0 when on anything
 * else, -1 with errno set when fstatfs fails. */
int pohmelfs_is_memory_filesystem(int fd);
/* mallopt(3) M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (<malloc.h>, which Glibc does not import):
 * fixed thresholds, which also turn off glibc's dynamic adjustment. 1 on success, 0 on failure. */
int pohmelfs_set_heap_thresholds(int mmap_threshold, int trim_threshold);
/* malloc_trim(0): returns the free memory of every heap arena to the kernel; 1 when some was. */
int pohmelfs_trim_heap(void);
/* linkat(fd, "", newdirfd, newname, AT_EMPTY_PATH) with CAP_DAC_READ_SEARCH raised in the calling
 * thread's effective set for this call only (it must be in the permitted set: a root server),
 * then the thread's capabilities as they were. Links an O_PATH descriptor of a symbolic link,
 * which has no /proc/self/fd path that would not be followed. -1 and errno on failure. */
int pohmelfs_linkat_empty_path(int fd, int newdirfd, const char *newname);

/* The uid owning the TCP socket on this host whose local end is `source` (the connecting
 * peer's address and port, network byte order not required: host order port) and remote end
 * `destination`, asked of the kernel through NETLINK_SOCK_DIAG (inet_diag). `family` is AF_INET
 * (4-byte addresses) or AF_INET6 (16-byte). Returns the uid, or -1 with errno set (ENOENT when
 * no such socket exists on this host). */
int64_t pohmelfs_tcp_socket_owner(int family, const uint8_t *source, uint16_t source_port,
                                  const uint8_t *destination, uint16_t destination_port);

/* The descriptor of this process's connected stream socket whose local address is `local` and peer
 * address `peer` (sockaddr bytes as getsockname/getpeername give them), found by looking at each
 * socket under /proc/self/fd. -1 with errno ENOENT when there is none. */
int pohmelfs_find_socket(const void *local, unsigned local_length, const void *peer, unsigned peer_length);

/* Constants that Swift cannot import from macros with casts. */
#define POHMELFS_RESOLVE_BENEATH 0x08
#define POHMELFS_RESOLVE_NO_MAGICLINKS 0x02
#define POHMELFS_RESOLVE_NO_SYMLINKS 0x04
#define POHMELFS_RESOLVE_NO_XDEV 0x01
#define POHMELFS_O_PATH 010000000
#define POHMELFS_O_DIRECT 040000
#define POHMELFS_O_NOATIME 01000000
#define POHMELFS_AT_EMPTY_PATH 0x1000
#define POHMELFS_MNT_DETACH 2
#define POHMELFS_RENAME_NOREPLACE 1
#define POHMELFS_RENAME_EXCHANGE 2
#define POHMELFS_FALLOC_FL_KEEP_SIZE 0x01
#define POHMELFS_FALLOC_FL_PUNCH_HOLE 0x02
#define POHMELFS_FALLOC_FL_ZERO_RANGE 0x10

/* Readiness of a descriptor as a queued signal to one thread, read through a signalfd
 * (the client's /dev/fuse reader on its event loop: ReadinessSignal.c). */
/* The real-time signal used for it. */
int pohmelfs_readiness_signal(void);
/* The calling thread's id. */
pid_t pohmelfs_gettid(void);
/* On the calling thread: blocks `signo` and SIGIO (what the kernel sends instead when the queue
 * of real-time signals is full) and returns a non-blocking, close-on-exec signalfd for both. */
int pohmelfs_block_into_signalfd(int signo);
/* Makes `fd` non-blocking and asks the kernel to queue `signo` to thread `tid` whenever `fd`
 * becomes readable (O_ASYNC, F_SETSIG, F_SETOWN_EX with F_OWNER_TID). */
int pohmelfs_signal_readiness(int fd, int signo, pid_t tid);
/* Queues `signo` to the calling thread (tgkill): its signalfd becomes readable, so its event
 * loop comes back to it only after one more wait for events. */
int pohmelfs_raise_readiness(int signo);

#endif
