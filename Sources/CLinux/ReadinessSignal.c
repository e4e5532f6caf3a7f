#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

int pohmelfs_readiness_signal(void) { return SIGRTMIN + 6; }

pid_t pohmelfs_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int pohmelfs_block_into_signalfd(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    sigaddset(&set, SIGIO);
    int error = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (error != 0) {
        errno = error;
        return -1;
    }
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int pohmelfs_signal_readiness(int fd, int signo, pid_t tid) {
    struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = tid};
    if (fcntl(fd, F_SETOWN_EX, &owner) != 0) return -1;
    if (fcntl(fd, F_SETSIG, signo) != 0) return -1;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_ASYNC | O_NONBLOCK);
}

int pohmelfs_raise_readiness(int signo) {
    return (int)syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), signo);
}
