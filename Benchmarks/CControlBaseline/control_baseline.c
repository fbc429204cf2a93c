#define _GNU_SOURCE
#include "control_baseline.h"
#include "gateway_shims.h"
#include "gateway_test_shims.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct server { int fd; char *reply; size_t reply_len; };
struct connection { int fd; struct server *server; };

static void *serve_connection(void *arg) {
    struct connection *c = arg;
    char buffer[65536];
    for (;;) {
        ssize_t n = read(c->fd, buffer, sizeof(buffer));
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (buffer[i] == 0 && write(c->fd, c->server->reply, c->server->reply_len) < 0) goto done;
        }
    }
done:
    close(c->fd);
    free(c);
    return NULL;
}

static void *accept_loop(void *arg) {
    struct server *s = arg;
    for (;;) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) { if (errno == EINTR) continue; break; }
        struct connection *c = malloc(sizeof(*c));
        c->fd = fd; c->server = s;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_connection, c) == 0) pthread_detach(t); else { close(fd); free(c); }
    }
    return NULL;
}

int gwc_server_start(const char *path, const char *reply) {
    unlink(path);
    int fd = gw_unix_bind(path, 1);
    if (fd < 0) return errno;
    struct server *s = malloc(sizeof(*s));
    s->fd = fd;
    s->reply_len = strlen(reply) + 1;  /* with its NUL */
    s->reply = strdup(reply);
    pthread_t t;
    int rc = pthread_create(&t, NULL, accept_loop, s);
    if (rc == 0) pthread_detach(t);
    return rc;
}

/* Waits with poll(2) before each read, as gatewayctl does (VarlinkConnection.receiveFrame). A read
 * that blocks sleeps on the socket's one wait queue, where the server's read of the request (which
 * frees write space) wakes it for nothing: a cross-CPU wake-up per request that no real client of
 * ours pays; poll's wait filters on POLLIN. */
static int round_trip(int fd, const char *request, size_t length, char *buffer, size_t size) {
    if (write(fd, request, length) != (ssize_t)length) return errno ? errno : EIO;
    for (;;) {
        struct pollfd entry = { .fd = fd, .events = POLLIN };
        if (poll(&entry, 1, -1) < 0) { if (errno == EINTR) continue; return errno; }
        ssize_t n = read(fd, buffer, size);
        if (n <= 0) return n == 0 ? EPIPE : errno;
        if (buffer[n - 1] == 0) return 0;  /* one reply per request: its NUL ends the read */
    }
}

int gwc_round_trips(const char *path, const char *request, int count, uint64_t *latencies_ns) {
    return gwc_round_trips_with_durations(path, request, count, latencies_ns, NULL);
}

int gwc_round_trips_with_durations(const char *path, const char *request, int count, uint64_t *latencies_ns,
                                   uint64_t *durations_us) {
    int fd = gw_unix_connect(path);
    if (fd < 0) return errno;
    size_t length = strlen(request) + 1;
    char buffer[65536];
    for (int i = 0; i < count; i++) {
        uint64_t start = gw_monotonic_nsec();
        int rc = round_trip(fd, request, length, buffer, sizeof(buffer));
        if (rc != 0) { close(fd); return rc; }
        latencies_ns[i] = gw_monotonic_nsec() - start;
        if (durations_us) {
            const char *field = strstr(buffer, "\"duration_usec\":");
            durations_us[i] = field ? strtoull(field + 16, NULL, 10) : 0;
        }
    }
    close(fd);
    return 0;
}

struct load { const char *path; const char *request; uint64_t deadline; atomic_uint_fast64_t done; atomic_int error; };

static void *load_client(void *arg) {
    struct load *l = arg;
    int fd = gw_unix_connect(l->path);
    if (fd < 0) { atomic_store(&l->error, errno); return NULL; }
    size_t length = strlen(l->request) + 1;
    char buffer[65536];
    while (gw_monotonic_nsec() < l->deadline) {
        int rc = round_trip(fd, l->request, length, buffer, sizeof(buffer));
        if (rc != 0) { atomic_store(&l->error, rc); break; }
        atomic_fetch_add(&l->done, 1);
    }
    close(fd);
    return NULL;
}

int gwc_throughput(const char *path, const char *request, int clients, double seconds, uint64_t *completed) {
    struct load l = { .path = path, .request = request,
                      .deadline = gw_monotonic_nsec() + (uint64_t)(seconds * 1e9) };
    atomic_init(&l.done, 0);
    atomic_init(&l.error, 0);
    pthread_t threads[clients];
    for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, load_client, &l);
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    *completed = atomic_load(&l.done);
    return atomic_load(&l.error);
}

struct senders { const char *path; const char *prefix; uint64_t end; atomic_uint_fast64_t next; atomic_uint_fast64_t done; atomic_int error; };

static void *senders_client(void *arg) {
    struct senders *s = arg;
    int fd = gw_unix_connect(s->path);
    if (fd < 0) { atomic_store(&s->error, errno); return NULL; }
    char request[512], buffer[65536];
    for (;;) {
        uint64_t n = atomic_fetch_add(&s->next, 1);
        if (n >= s->end) break;
        int length = snprintf(request, sizeof(request),
            "{\"method\":\"io.gatewayd.Gateway.SendMessage\",\"parameters\":{\"text\":\"hi\",\"chat\":\"%s%llu\"}}",
            s->prefix, (unsigned long long)n);
        int rc = round_trip(fd, request, (size_t)length + 1, buffer, sizeof(buffer));
        if (rc != 0) { atomic_store(&s->error, rc); break; }
        if (strstr(buffer, "\"error\"")) { atomic_store(&s->error, EPROTO); break; }
        atomic_fetch_add(&s->done, 1);
    }
    close(fd);
    return NULL;
}

int gwc_distinct_senders(const char *path, const char *prefix, uint64_t first, uint64_t count, int clients,
                         uint64_t *completed) {
    struct senders s = { .path = path, .prefix = prefix, .end = first + count };
    atomic_init(&s.next, first);
    atomic_init(&s.done, 0);
    atomic_init(&s.error, 0);
    pthread_t threads[clients];
    for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, senders_client, &s);
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    *completed = atomic_load(&s.done);
    return atomic_load(&s.error);
}

int gwc_request(const char *path, const char *request, char *reply, size_t size) {
    int fd = gw_unix_connect(path);
    if (fd < 0) return errno;
    char buffer[65536];
    int rc = round_trip(fd, request, strlen(request) + 1, buffer, sizeof(buffer));
    close(fd);
    if (rc == 0 && size > 0) {
        strncpy(reply, buffer, size - 1);
        reply[size - 1] = 0;
    }
    return rc;
}
