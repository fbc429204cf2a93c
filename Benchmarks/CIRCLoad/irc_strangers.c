#define _GNU_SOURCE
#include "irc_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// Many IRC users on one thread (epoll): each registers, sends its private messages to the bot
// once welcomed, then reads and discards whatever comes (answering PING) until stopped.

struct stranger { int fd; int index; int registered; size_t have; char buffer[1024]; };

struct gwi_strangers {
    int epoll, users, messages; char bot[64];
    struct stranger *all; pthread_t thread;
    atomic_int stop, registered, failed; atomic_long sent, replies;
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int write_all(int fd, const char *text, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, text, length);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) { struct pollfd p = { .fd = fd, .events = POLLOUT }; poll(&p, 1, 1000); continue; }
        if (n <= 0) return errno ? errno : EPIPE;
        text += n; length -= (size_t)n;
    }
    return 0;
}

static int connect_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { close(fd); return -1; }
    return fd;
}

/// Handles the complete lines in the stranger's buffer.
static void lines(struct gwi_strangers *s, struct stranger *u) {
    char *line = u->buffer, *end;
    while ((end = memchr(line, '\n', u->have - (size_t)(line - u->buffer)))) {
        *end = 0;
        if (strncmp(line, "PING ", 5) == 0) {
            char pong[600];
            int n = snprintf(pong, sizeof pong, "PONG %s\n", line + 5);
            write_all(u->fd, pong, (size_t)n);
        } else if (!u->registered && strstr(line, " 001 ")) {
            u->registered = 1;
            atomic_fetch_add(&s->registered, 1);
        } else if (strstr(line, " PRIVMSG ")) {
            atomic_fetch_add(&s->replies, 1);
        }
        line = end + 1;
    }
    u->have -= (size_t)(line - u->buffer);
    memmove(u->buffer, line, u->have);
    if (u->have == sizeof u->buffer) u->have = 0;  // a line longer than the buffer: dropped
}

static void *run(void *arg) {
    struct gwi_strangers *s = arg;
    struct epoll_event events[64];
    int started = 0;
    while (!atomic_load(&s->stop)) {
        if (!started && atomic_load(&s->registered) + atomic_load(&s->failed) == s->users) {
            // Everyone is welcomed: now the flood, user by user.
            started = 1;
            for (int m = 0; m < s->messages; m++) {
                for (int i = 0; i < s->users; i++) {
                    if (s->all[i].fd < 0) continue;
                    char line[200];
                    int n = snprintf(line, sizeof line, "PRIVMSG %s :let me in %d\r\n", s->bot, m);
                    if (write_all(s->all[i].fd, line, (size_t)n) == 0) atomic_fetch_add(&s->sent, 1);
                }
            }
        }
        int ready = epoll_wait(s->epoll, events, 64, 50);
        for (int e = 0; e < ready; e++) {
            struct stranger *u = &s->all[events[e].data.u32];
            ssize_t n = read(u->fd, u->buffer + u->have, sizeof u->buffer - u->have);
            if (n <= 0) {
                if (n < 0 && errno == EAGAIN) continue;
                epoll_ctl(s->epoll, EPOLL_CTL_DEL, u->fd, NULL);
                close(u->fd);
                u->fd = -1;
                if (!u->registered) atomic_fetch_add(&s->failed, 1);
                continue;
            }
            u->have += (size_t)n;
            lines(s, u);
        }
    }
    return NULL;
}

struct gwi_strangers *gwi_strangers_start(int port, const char *bot, int users, int messages) {
    struct gwi_strangers *s = calloc(1, sizeof *s);
    s->users = users; s->messages = messages;
    snprintf(s->bot, sizeof s->bot, "%s", bot);
    s->all = calloc((size_t)users, sizeof *s->all);
    s->epoll = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < users; i++) {
        struct stranger *u = &s->all[i];
        u->index = i;
        u->fd = connect_loopback(port);
        if (u->fd < 0) { atomic_fetch_add(&s->failed, 1); continue; }
        char line[200];
        int n = snprintf(line, sizeof line, "NICK s%d\r\nUSER s%d 0 * :stranger\r\n", i, i);
        write_all(u->fd, line, (size_t)n);
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(s->epoll, EPOLL_CTL_ADD, u->fd, &event);
    }
    pthread_create(&s->thread, NULL, run, s);
    return s;
}

void gwi_strangers_counts(struct gwi_strangers *s, int *registered, int *failed, long *sent, long *replies) {
    *registered = atomic_load(&s->registered);
    *failed = atomic_load(&s->failed);
    *sent = atomic_load(&s->sent);
    *replies = atomic_load(&s->replies);
}

void gwi_strangers_stop(struct gwi_strangers *s) {
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->users; i++) if (s->all[i].fd >= 0) close(s->all[i].fd);
    close(s->epoll);
    free(s->all);
    free(s);
}

int gwi_irc_connect(int port, const char *nick) {
    int fd = connect_loopback(port);
    if (fd < 0) return -1;
    struct timeval timeout = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char line[200], buffer[8192];
    int n = snprintf(line, sizeof line, "NICK %s\r\nUSER %s 0 * :%s\r\n", nick, nick, nick);
    write_all(fd, line, (size_t)n);
    size_t have = 0;
    while (1) {
        ssize_t got = read(fd, buffer + have, sizeof buffer - have - 1);
        if (got <= 0) { close(fd); return -1; }
        have += (size_t)got; buffer[have] = 0;
        if (strstr(buffer, " 001 ")) return fd;
        if (have > sizeof buffer / 2) { memmove(buffer, buffer + have / 2, have - have / 2); have -= have / 2; }
    }
}

int gwi_irc_ask(int fd, const char *bot, const char *text, const char *needle, int timeout_ms, uint64_t *latency_ns) {
    char line[600], buffer[8192];
    int n = snprintf(line, sizeof line, "PRIVMSG %s :%s\r\n", bot, text);
    uint64_t start = now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000u;
    if (write_all(fd, line, (size_t)n)) return EPIPE;
    size_t have = 0;
    while (now_ns() < deadline) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)((deadline - now_ns()) / 1000000u) + 1) <= 0) continue;
        ssize_t got = read(fd, buffer + have, sizeof buffer - have - 1);
        if (got <= 0) return EPIPE;
        have += (size_t)got; buffer[have] = 0;
        char *start_of_line = buffer, *end;
        while ((end = strstr(start_of_line, "\r\n"))) {
            *end = 0;
            if (strncmp(start_of_line, "PING ", 5) == 0) {
                char pong[600];
                int m = snprintf(pong, sizeof pong, "PONG %s\r\n", start_of_line + 5);
                write_all(fd, pong, (size_t)m);
            } else if (strstr(start_of_line, needle)) {
                *latency_ns = now_ns() - start;
                return 0;
            }
            start_of_line = end + 2;
        }
        have = strlen(start_of_line);
        memmove(buffer, start_of_line, have + 1);
    }
    return ETIMEDOUT;
}
