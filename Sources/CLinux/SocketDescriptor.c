#define _GNU_SOURCE
#include "CLinux.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* Compares what `fetch` (getsockname or getpeername) says of `fd` with `expected`. */
static int same_address(int fd, int (*fetch)(int, struct sockaddr *, socklen_t *), const void *expected,
                        unsigned expected_length) {
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (fetch(fd, (struct sockaddr *)&address, &length) != 0) return 0;
    return length == expected_length && memcmp(&address, expected, length) == 0;
}

int pohmelfs_find_socket(const void *local, unsigned local_length, const void *peer, unsigned peer_length) {
    DIR *descriptors = opendir("/proc/self/fd");
    if (descriptors == NULL) return -1;
    int own = dirfd(descriptors);
    int found = -1;
    struct dirent *entry;
    while ((entry = readdir(descriptors)) != NULL) {
        char *end;
        long fd = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || end == entry->d_name || fd == own) continue;
        struct stat status;
        if (fstat((int)fd, &status) != 0 || !S_ISSOCK(status.st_mode)) continue;
        int type = 0;
        socklen_t type_length = sizeof type;
        if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &type_length) != 0 || type != SOCK_STREAM) continue;
        if (same_address((int)fd, getsockname, local, local_length) &&
            same_address((int)fd, getpeername, peer, peer_length)) {
            found = (int)fd;
            break;
        }
    }
    closedir(descriptors);
    if (found < 0) errno = ENOENT;
    return found;
}
