#define _GNU_SOURCE
#include "CLinux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

/* One exact-match inet_diag request (no dump): the kernel answers with the one socket whose
 * four-tuple matches, or an NLMSG_ERROR carrying ENOENT. */
int64_t pohmelfs_tcp_socket_owner(int family, const uint8_t *source, uint16_t source_port,
                                  const uint8_t *destination, uint16_t destination_port) {
    if (family != AF_INET && family != AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    struct timeval timeout = {.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.header.nlmsg_seq = 1;
    message.request.sdiag_family = (uint8_t)family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0u;
    message.request.id.idiag_sport = htons(source_port);
    message.request.id.idiag_dport = htons(destination_port);
    size_t length = family == AF_INET ? 4 : 16;
    memcpy(message.request.id.idiag_src, source, length);
    memcpy(message.request.id.idiag_dst, destination, length);
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    long buffer[2048];
    ssize_t received = recv(fd, buffer, sizeof buffer, 0);
    int saved = errno;
    close(fd);
    if (received < 0) {
        errno = saved;
        return -1;
    }
    for (struct nlmsghdr *reply = (struct nlmsghdr *)buffer; NLMSG_OK(reply, (size_t)received);
         reply = NLMSG_NEXT(reply, received)) {
        if (reply->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *error = NLMSG_DATA(reply);
            errno = error->error ? -error->error : ENOENT;
            return -1;
        }
        if (reply->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            struct inet_diag_msg *diag = NLMSG_DATA(reply);
            /* An exact lookup falls back to a listening socket, and a TIME_WAIT socket reports
             * uid 0: only a connected socket of exactly this four-tuple names its owner. */
            if (diag->idiag_state == 10 /* TCP_LISTEN */ || diag->idiag_state == 6 /* TCP_TIME_WAIT */ ||
                diag->id.idiag_dport != htons(destination_port) || diag->id.idiag_sport != htons(source_port)) {
                errno = ENOENT;
                return -1;
            }
            return (int64_t)diag->idiag_uid;
        }
    }
    errno = ENOENT;
    return -1;
}
