#define _GNU_SOURCE
#include "http_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int connect_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval limit = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { close(fd); return -1; }
    return fd;
}

static int send_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t n = send(fd, bytes, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        bytes += n;
        length -= (size_t)n;
    }
    return 0;
}

/// Whether the server closed fd (end of file or reset), without waiting.
static int closed_by_peer(int fd) {
    struct pollfd entry = { .fd = fd, .events = POLLIN };
    if (poll(&entry, 1, 0) != 1) return 0;
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN);
}

int gwh_slowloris(int port, int count, int *fds) {
    static const char head[] = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    int opened = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = connect_loopback(port);
        if (fds[i] < 0) continue;
        if (send_all(fds[i], head, sizeof head - 1) == 0) opened++;
    }
    return opened;
}

int gwh_dribble(int *fds, int count) {
    int open = 0;
    for (int i = 0; i < count; i++) {
        if (fds[i] < 0) continue;
        if (closed_by_peer(fds[i]) || send(fds[i], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            close(fds[i]);
            fds[i] = -1;
            continue;
        }
        open++;
    }
    return open;
}

int gwh_rejected_bodies(int port, int count, int body_size, const char *signature, int *fds) {
    char head[512];
    int head_length = snprintf(head, sizeof head,
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n", signature, body_size);
    char *body = malloc((size_t)body_size);
    if (!body) return -1;
    memset(body, 'x', (size_t)body_size);
    char response[4096];
    int answered = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = connect_loopback(port);
        if (fds[i] < 0) continue;
        if (send_all(fds[i], head, (size_t)head_length) != 0) continue;
        send_all(fds[i], body, (size_t)body_size);  /* may be cut short by a server that refused it */
        ssize_t n = recv(fds[i], response, sizeof response - 1, 0);
        if (n > 12 && memcmp(response, "HTTP/1.1 4", 10) == 0) answered++;
    }
    free(body);
    return answered;
}

int gwh_count_open(int *fds, int count) {
    int open = 0;
    for (int i = 0; i < count; i++) {
        if (fds[i] >= 0 && !closed_by_peer(fds[i])) open++;
    }
    return open;
}

void gwh_close_all(int *fds, int count) {
    for (int i = 0; i < count; i++) if (fds[i] >= 0) { close(fds[i]); fds[i] = -1; }
}
