#define _GNU_SOURCE
#include "http_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct load {
    int port; const char *request; size_t length; uint64_t deadline;
    atomic_uint_fast64_t completed, failed; atomic_int error;
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/// Reads one response; returns its status code, or -1.
static int read_response(int fd, char *buffer, size_t size) {
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buffer + have, size - have - 1);
        if (n <= 0) return -1;
        have += (size_t)n;
        buffer[have] = 0;
        char *end = strstr(buffer, "\r\n\r\n");
        if (!end) continue;
        char *length = strcasestr(buffer, "content-length:");
        size_t body = length ? strtoul(length + 15, NULL, 10) : 0;
        size_t total = (size_t)(end + 4 - buffer) + body;
        while (have < total) {
            n = read(fd, buffer + have, size - have - 1);
            if (n <= 0) return -1;
            have += (size_t)n;
        }
        return atoi(buffer + 9);
    }
}

static void *client(void *arg) {
    struct load *l = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)l->port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) { atomic_store(&l->error, errno); close(fd); return NULL; }
    char buffer[65536];
    while (now_ns() < l->deadline) {
        if (write(fd, l->request, l->length) != (ssize_t)l->length) { atomic_store(&l->error, errno); break; }
        int status = read_response(fd, buffer, sizeof(buffer));
        if (status < 0) { atomic_store(&l->error, EPIPE); break; }
        if (status == 200) atomic_fetch_add(&l->completed, 1); else atomic_fetch_add(&l->failed, 1);
    }
    close(fd);
    return NULL;
}

int gwh_load(int port, const char *request, int clients, double seconds, uint64_t *completed, uint64_t *failed) {
    struct load l = { .port = port, .request = request, .length = strlen(request),
                      .deadline = now_ns() + (uint64_t)(seconds * 1e9) };
    atomic_init(&l.completed, 0); atomic_init(&l.failed, 0); atomic_init(&l.error, 0);
    pthread_t threads[256];
    if (clients > 256) clients = 256;
    for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, client, &l);
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    *completed = atomic_load(&l.completed);
    *failed = atomic_load(&l.failed);
    return atomic_load(&l.error);
}
