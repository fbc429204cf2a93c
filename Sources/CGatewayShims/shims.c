#define _GNU_SOURCE
#include "gateway_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int gw_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

short gw_spawn_flag_setsigmask(void) { return POSIX_SPAWN_SETSIGMASK; }
short gw_spawn_flag_setsigdef(void) { return POSIX_SPAWN_SETSIGDEF; }

int gw_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int gw_pipe_cloexec_nonblock(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK); }

int gw_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int gw_wait_exit(pid_t pid, int reap, int *code, int *signal) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int flags = WEXITED | WNOHANG | (reap ? 0 : WNOWAIT);
    int result;
    do { result = waitid(P_PID, (id_t)pid, &info, flags); } while (result < 0 && errno == EINTR);
    if (result < 0) return -1;
    if (info.si_pid == 0) return 0;
    if (info.si_code == CLD_EXITED) { *code = info.si_status; return 1; }
    *signal = info.si_status;
    return 2;
}

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

int gw_pidfd_signal_group(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, PIDFD_SIGNAL_PROCESS_GROUP);
}

int gw_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid; *uid = cred.uid; *gid = cred.gid;
    return 0;
}

socklen_t gw_fill_unix_address(struct sockaddr_un *addr, const char *path) {
    size_t len = strlen(path);
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (len >= sizeof(addr->sun_path)) { errno = ENAMETOOLONG; return 0; }
    memcpy(addr->sun_path, path, len);
    if (path[0] == '@') {
        addr->sun_path[0] = '\0';
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int gw_unix_connect(const char *path) {
    struct sockaddr_un addr;
    socklen_t alen = gw_fill_unix_address(&addr, path);
    if (alen == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, alen) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

uint64_t gw_monotonic_usec(void) { return gw_monotonic_nsec() / 1000; }

uint64_t gw_monotonic_nsec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#include <sys/epoll.h>
#include <sys/timerfd.h>

int gw_timerfd(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK); }

int gw_timerfd_arm(int fd, uint64_t deadline_nsec) {
    if (deadline_nsec == 0) deadline_nsec = 1;  /* zero would disarm */
    struct itimerspec spec = { .it_value = { .tv_sec = (time_t)(deadline_nsec / 1000000000ull),
                                             .tv_nsec = (long)(deadline_nsec % 1000000000ull) } };
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int gw_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int epoll_set(int epfd, int operation, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev = { .events = events, .data = { .u64 = token } };
    return epoll_ctl(epfd, operation, fd, &ev);
}

int gw_epoll_add(int epfd, int fd, uint64_t token) { return epoll_set(epfd, EPOLL_CTL_ADD, fd, EPOLLIN, token); }

int gw_epoll_add_oneshot(int epfd, int fd, uint64_t token) {
    return epoll_set(epfd, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT, token);
}

int gw_epoll_rearm_oneshot(int epfd, int fd, uint64_t token) {
    return epoll_set(epfd, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT, token);
}

int gw_epoll_del(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

int gw_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

struct gw_thread_start {
    char name[16];
    void (*body)(void *);
    void *context;
};

static void *gw_thread_main(void *argument) {
    struct gw_thread_start start = *(struct gw_thread_start *)argument;
    free(argument);
    prctl(PR_SET_NAME, (unsigned long)start.name, 0, 0, 0);
    start.body(start.context);
    return NULL;
}

int gw_start_thread(const char *name, void (*body)(void *context), void *context) {
    struct gw_thread_start *start = calloc(1, sizeof *start);
    if (!start) return ENOMEM;
    strncpy(start->name, name, sizeof start->name - 1);
    start->body = body;
    start->context = context;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int result = pthread_create(&thread, &attributes, gw_thread_main, start);
    pthread_attr_destroy(&attributes);
    if (result != 0) free(start);
    return result;
}


// Signals taken as data (gatewayd's lifecycle signals).

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

static void gw_fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

int gw_block_signals(const int *signals, int count) {
    sigset_t set;
    gw_fill_set(&set, signals, count);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int gw_signalfd(const int *signals, int count) {
    sigset_t set;
    gw_fill_set(&set, signals, count);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

int gw_signalfd_next(int signal_fd, int wake_fd) {
    struct pollfd entries[2] = {{signal_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    for (;;) {
        if (poll(entries, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (entries[1].revents) return 0;
        if (entries[0].revents) {
            struct signalfd_siginfo info;
            ssize_t n = read(signal_fd, &info, sizeof info);
            if (n == (ssize_t)sizeof info) return (int)info.ssi_signo;
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            return -1;
        }
    }
}

int gw_eventfd(void) { return eventfd(0, EFD_CLOEXEC); }

int gw_eventfd_signal(int fd) {
    uint64_t one = 1;
    return write(fd, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -1;
}
