#define _GNU_SOURCE
#include "gateway_test_shims.h"
#include "gateway_shims.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

pid_t gw_spawn_sleeper_with_pid(pid_t pid, const char *seconds) {
    pid_t tids[1] = { pid };
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size;
    } args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    args.set_tid = (uint64_t)(uintptr_t)tids;
    args.set_tid_size = 1;
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child < 0) return -1;
    if (child == 0) {
        /* Only async-signal-safe calls between clone and exec. */
        setpgid(0, 0);
        char *argv[] = { "sleep", (char *)seconds, NULL };
        char *envp[] = { NULL };
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    return (pid_t)child;
}

int gw_decode_wait_status(int status, int *code, int *signal) {
    if (WIFEXITED(status)) { *code = WEXITSTATUS(status); return 1; }
    if (WIFSIGNALED(status)) { *signal = WTERMSIG(status); return 2; }
    return 0;
}

int gw_enable_passcred(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
}

ssize_t gw_recv_with_credentials(int fd, void *buffer, size_t length,
                                 pid_t *pid, uid_t *uid, gid_t *gid) {
    struct iovec iov = { .iov_base = buffer, .iov_len = length };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(struct ucred))]; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    *pid = -1; *uid = (uid_t)-1; *gid = (gid_t)-1;
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            *pid = cred.pid; *uid = cred.uid; *gid = cred.gid;
        }
    }
    return n;
}

int gw_unix_bind(const char *path, int stream) {
    struct sockaddr_un addr;
    socklen_t alen = gw_fill_unix_address(&addr, path);
    if (alen == 0) return -1;
    int fd = socket(AF_UNIX, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&addr, alen) != 0) { int e = errno; close(fd); errno = e; return -1; }
    if (stream && listen(fd, SOMAXCONN) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

/* Whether `port` on 127.0.0.1 can be bound now; 0 asks the kernel for one. */
static int bindable_loopback_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    int found = -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0
        && getsockname(fd, (struct sockaddr *)&address, &length) == 0) found = ntohs(address.sin_port);
    close(fd);
    return found;
}

int gw_free_loopback_port(void) {
    /* Below the kernel's ephemeral range: a port from that range, free when chosen, can be taken
       by any outgoing connection before the server that is meant to have it binds it (a test that
       opens 10,000 connections at the same time took one from an IRC server starting up). */
    int low = 32768;
    FILE *range = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
    if (range) {
        int first = 0, last = 0;
        if (fscanf(range, "%d %d", &first, &last) == 2 && first > 2048) low = first;
        fclose(range);
    }
    int floor = low / 2 > 1024 ? low / 2 : 1024;
    static unsigned counter;
    unsigned seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    for (int attempt = 0; attempt < 64; attempt++) {
        unsigned spin = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        int port = floor + (int)((seed + spin * 40503u) % (unsigned)(low - floor));
        if (bindable_loopback_port(port) == port) return port;
    }
    return bindable_loopback_port(0);
}

int gw_test_deny_close_range(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = { .len = sizeof filter / sizeof filter[0], .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program);
}
