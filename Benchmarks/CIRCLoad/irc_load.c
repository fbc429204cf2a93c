#define _GNU_SOURCE
#include "irc_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct user {
    int port, index, messages, window; const char *bot;
    pthread_barrier_t *ready; atomic_uint_fast64_t *first, *last; int error;
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int send_all(int fd, const char *text) {
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t n = write(fd, text, length);
        if (n <= 0) return errno ? errno : EPIPE;
        text += n; length -= (size_t)n;
    }
    return 0;
}

/// Counts occurrences of `needle` in what is read until `wanted` were seen (answering PINGs).
static int read_until(int fd, const char *needle, int wanted, char *buffer, size_t size) {
    int seen = 0; size_t have = 0;
    while (seen < wanted) {
        ssize_t n = read(fd, buffer + have, size - have - 1);
        if (n <= 0) return n == 0 ? EPIPE : (errno == EAGAIN ? ETIMEDOUT : errno);
        have += (size_t)n; buffer[have] = 0;
        char *line = buffer, *end;
        while ((end = strstr(line, "\r\n"))) {
            *end = 0;
            if (strstr(line, needle)) seen++;
            if (strncmp(line, "PING ", 5) == 0) { char pong[600]; snprintf(pong, sizeof pong, "PONG %s\r\n", line + 5); send_all(fd, pong); }
            line = end + 2;
        }
        have = strlen(line);
        memmove(buffer, line, have + 1);
    }
    return 0;
}

static void *run_user(void *arg) {
    struct user *u = arg;
    char buffer[65536], line[600], nick[32], needle[64];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)u->port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    snprintf(nick, sizeof nick, "u%d", u->index);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { u->error = errno; pthread_barrier_wait(u->ready); return NULL; }
    snprintf(line, sizeof line, "NICK %s\r\nUSER %s 0 * :%s\r\n", nick, nick, nick);
    u->error = send_all(fd, line);
    if (!u->error) u->error = read_until(fd, " 001 ", 1, buffer, sizeof buffer);
    pthread_barrier_wait(u->ready);
    if (u->error) { close(fd); return NULL; }
    uint64_t start = now_ns(), expected = 0;
    atomic_compare_exchange_strong(u->first, &expected, start);
    // The echo agent's answers only (not the busy acknowledgement).
    snprintf(needle, sizeof needle, " PRIVMSG %s :echo: ", nick);
    for (int sent = 0; sent < u->messages && !u->error;) {
        int batch = u->messages - sent < u->window ? u->messages - sent : u->window;
        for (int i = 0; i < batch && !u->error; i++) {
            snprintf(line, sizeof line, "PRIVMSG %s :message %d from %s\r\n", u->bot, sent + i, nick);
            u->error = send_all(fd, line);
        }
        if (!u->error) u->error = read_until(fd, needle, batch, buffer, sizeof buffer);
        sent += batch;
    }
    uint64_t end = now_ns(), last = atomic_load(u->last);
    while (end > last && !atomic_compare_exchange_weak(u->last, &last, end)) {}
    send_all(fd, "QUIT\r\n");
    close(fd);
    return NULL;
}

int gwi_irc_load(int port, const char *bot, int users, int messages, int window, uint64_t *elapsed_ns) {
    if (users > 256) users = 256;
    pthread_t threads[256];
    struct user states[256];
    pthread_barrier_t ready;
    pthread_barrier_init(&ready, NULL, (unsigned)users);
    atomic_uint_fast64_t first = 0, last = 0;
    for (int i = 0; i < users; i++) {
        states[i] = (struct user){ .port = port, .index = i, .messages = messages, .window = window, .bot = bot,
                                   .ready = &ready, .first = &first, .last = &last };
        pthread_create(&threads[i], NULL, run_user, &states[i]);
    }
    int error = 0;
    for (int i = 0; i < users; i++) { pthread_join(threads[i], NULL); if (states[i].error && !error) error = states[i].error; }
    pthread_barrier_destroy(&ready);
    *elapsed_ns = atomic_load(&last) - atomic_load(&first);
    return error;
}
