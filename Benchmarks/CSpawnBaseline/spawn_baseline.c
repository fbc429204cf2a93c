#define _GNU_SOURCE
#include "spawn_baseline.h"
#include "gateway_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int gwb_spawn_collect(const char *command, char *out, size_t cap, size_t *out_len, int *wait_status) {
    int o[2], e[2];
    if (pipe2(o, O_CLOEXEC) != 0) return errno;
    if (pipe2(e, O_CLOEXEC) != 0) { int r = errno; close(o[0]); close(o[1]); return r; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none, all;
    sigemptyset(&none);
    memset(&all, 0xff, sizeof(all));  /* as the runner: glibc's internal signals included */
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    char *argv[] = { "sh", "-c", (char *)command, NULL };
    char *envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(o[1]); close(e[1]);
    if (rc != 0) { close(o[0]); close(e[0]); return rc; }
    size_t len = 0;
    char sink[65536];
    struct pollfd fds[2] = { { .fd = o[0], .events = POLLIN }, { .fd = e[0], .events = POLLIN } };
    int open_count = 2;
    while (open_count > 0) {
        if (poll(fds, 2, -1) < 0) { if (errno == EINTR) continue; break; }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents) continue;
            char *dst = (i == 0 && len < cap) ? out + len : sink;
            size_t room = (i == 0 && len < cap) ? cap - len : sizeof(sink);
            ssize_t n = read(fds[i].fd, dst, room);
            if (n > 0) { if (dst != sink) len += (size_t)n; continue; }
            if (n < 0 && errno == EINTR) continue;
            close(fds[i].fd); fds[i].fd = -1; open_count--;
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    *out_len = len;
    *wait_status = status;
    return 0;
}

struct shared_work {
    const char *command;
    int total;
    atomic_int next;
    atomic_int error;
    uint64_t *latencies;
};

static void *worker(void *arg) {
    struct shared_work *work = arg;
    char out[256];
    for (;;) {
        int index = atomic_fetch_add(&work->next, 1);
        if (index >= work->total) break;
        uint64_t start = gw_monotonic_nsec();
        size_t len; int status;
        int rc = gwb_spawn_collect(work->command, out, sizeof(out), &len, &status);
        work->latencies[index] = gw_monotonic_nsec() - start;
        if (rc != 0) atomic_store(&work->error, rc);
    }
    return NULL;
}

int gwb_run_concurrent(const char *command, int threads, int total, uint64_t *latencies_ns) {
    struct shared_work work = { .command = command, .total = total, .latencies = latencies_ns };
    atomic_init(&work.next, 0);
    atomic_init(&work.error, 0);
    pthread_t ids[threads];
    int started = 0;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&ids[i], NULL, worker, &work) == 0) started++;
    }
    for (int i = 0; i < started; i++) pthread_join(ids[i], NULL);
    return atomic_load(&work.error);
}
