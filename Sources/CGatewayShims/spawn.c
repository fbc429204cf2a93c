// gw_spawn: posix_spawn for quick commands, without what glibc's costs a multithreaded daemon.
//
// glibc's posix_spawn maps a fresh stack for its CLONE_VM child at every call and unmaps it
// afterwards; in a process whose threads run on several CPUs, that munmap is a TLB shootdown
// (an IPI to every CPU running one of them, which the caller waits for) - measured on the
// daemon's spawn threads under 32 commands in flight: munmap 16.5 % and mmap 6 % of their time,
// pidfd_open another 5 %. Here the child's stacks are kept in a small pool and reused, and the
// pidfd comes from clone itself (CLONE_PIDFD), race-free.
//
// The child does what posix_spawn with the daemon's attributes did, in the same order: every
// signal's disposition back to default (a handler installed in the daemon must never run in
// the child, which shares its memory until exec; an ignored signal would stay ignored across
// exec), a process group of its own, stdin (a pipe or /dev/null), stdout and stderr, every other
// descriptor closed, the working directory, an empty signal mask, execve. Every step is a raw
// system call: the child runs on a borrowed stack in the parent's memory, where no libc state
// (locks, the sanitizers' interceptors) may be touched. A failure reaches the parent through that
// shared memory, as glibc's does, and the child exits 127 (reaped here).
#define _GNU_SOURCE
#include "gateway_shims.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/// The child needs little: a few system calls, no libc. A page-aligned size; no guard page,
/// as glibc's has none.
#define GW_SPAWN_STACK_SIZE (64 * 1024)
/// Stacks kept for reuse: one per spawn under way at once (gatewayd's four spawn threads and its
/// event loop, plus any other runner's callers); past that they are mapped and unmapped per spawn.
#define GW_SPAWN_STACK_POOL 16

static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static void *stack_pool[GW_SPAWN_STACK_POOL];
static int stack_count;

static void *take_stack(void) {
    void *stack = NULL;
    pthread_mutex_lock(&stack_lock);
    if (stack_count > 0) stack = stack_pool[--stack_count];
    pthread_mutex_unlock(&stack_lock);
    if (stack) return stack;
    stack = mmap(NULL, GW_SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    return stack == MAP_FAILED ? NULL : stack;
}

static void give_stack(void *stack) {
    pthread_mutex_lock(&stack_lock);
    if (stack_count < GW_SPAWN_STACK_POOL) {
        stack_pool[stack_count++] = stack;
        stack = NULL;
    }
    pthread_mutex_unlock(&stack_lock);
    if (stack) munmap(stack, GW_SPAWN_STACK_SIZE);
}

/// The kernel's struct for rt_sigaction (not glibc's: it refuses glibc's internal signals).
struct gw_kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

struct gw_spawn_child {
    const struct gw_spawn_request *request;
    /// Written by the child before it exits 127; read by the parent once clone has returned.
    volatile int error;
};

// Not instrumented at all: the child runs on the parent thread's sanitizer state (same TLS), and
// ThreadSanitizer's function entry/exit hooks, which `no_sanitize` alone still emits, would leave
// the parent's shadow stack unbalanced (child_main never returns).
#define GW_NO_SANITIZE __attribute__((disable_sanitizer_instrumentation, no_sanitize("address", "thread", "undefined"), noinline))

/// glibc's clone under the name sanitizers do not intercept: ThreadSanitizer's `clone`
/// interceptor treats the child as a fork and, with CLONE_VM, runs its after-fork code on the
/// parent's own state (glibc's posix_spawn calls an internal clone, never intercepted either).
extern int __clone(int (*function)(void *), void *stack, int flags, void *argument, ...);

GW_NO_SANITIZE static long raw(long number, long a, long b, long c, long d) {
    // syscall(2) itself sets errno on failure, in the parent's thread-local storage: harmless,
    // the parent is stopped until exec, and reads no errno of ours.
    return syscall(number, a, b, c, d);
}

GW_NO_SANITIZE static int move_descriptor(int from, int to) {
    if (from == to) {
        // Already in place: only the close-on-exec flag must go (dup2 would keep it).
        return raw(SYS_fcntl, from, F_SETFD, 0, 0) < 0 ? -1 : 0;
    }
    return raw(SYS_dup2, from, to, 0, 0) < 0 ? -1 : 0;
}

GW_NO_SANITIZE static _Noreturn void fail(struct gw_spawn_child *child) {
    child->error = errno ? errno : ECHILD;
    raw(SYS_exit_group, 127, 0, 0, 0);
    __builtin_unreachable();
}

/// Closes every descriptor from 3 up, as listed in /proc/self/fd (read with getdents64 into a
/// buffer on this stack), from the start again after each pass that closed any. Without /proc,
/// every number below RLIMIT_NOFILE (at most 2^20), read here: only this rare path needs it, not
/// every spawn. 0, or -1 with errno.
GW_NO_SANITIZE static int close_listed_descriptors(void) {
    long directory = raw(SYS_openat, AT_FDCWD, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (directory < 0) {
        struct rlimit limit = {1024, 1024};
        raw(SYS_getrlimit, RLIMIT_NOFILE, (long)&limit, 0, 0);
        long end = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (1 << 20) ? (1 << 20) : (long)limit.rlim_cur;
        for (long fd = 3; fd < end; fd++) raw(SYS_close, fd, 0, 0, 0);
        return 0;
    }
    char buffer[1024] __attribute__((aligned(8)));
    int closed_any;
    do {
        closed_any = 0;
        if (raw(SYS_lseek, directory, 0, SEEK_SET, 0) < 0) return -1;
        for (;;) {
            long length = raw(SYS_getdents64, directory, (long)buffer, sizeof buffer, 0);
            if (length < 0) return -1;
            if (length == 0) break;
            for (long offset = 0; offset < length;) {
                // struct linux_dirent64: u64 inode, s64 offset, u16 record length, u8 type, name.
                unsigned short record = *(unsigned short *)(buffer + offset + 16);
                const char *name = buffer + offset + 19;
                long fd = 0;
                int digits = 0;
                for (; *name >= '0' && *name <= '9'; name++, digits++) fd = fd * 10 + (*name - '0');
                if (digits > 0 && *name == 0 && fd >= 3 && fd != directory) {
                    raw(SYS_close, fd, 0, 0, 0);
                    closed_any = 1;
                }
                offset += record;
            }
        }
    } while (closed_any);
    raw(SYS_close, directory, 0, 0, 0);
    return 0;
}

GW_NO_SANITIZE static int child_main(void *argument) {
    struct gw_spawn_child *child = argument;
    const struct gw_spawn_request *request = child->request;

    // Every disposition to the default (signals are all blocked here, inherited from the
    // parent, until the mask is emptied just before execve).
    struct gw_kernel_sigaction default_action = {0};
    default_action.handler = SIG_DFL;
    for (long sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        raw(SYS_rt_sigaction, sig, (long)&default_action, 0, 8);
    }
    if (raw(SYS_setpgid, 0, 0, 0, 0) < 0) fail(child);

    if (request->standard_input >= 0) {
        if (move_descriptor(request->standard_input, 0) < 0) fail(child);
    } else {
        long null = raw(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY, 0);
        if (null < 0) fail(child);
        if (null != 0) {
            if (raw(SYS_dup2, null, 0, 0, 0) < 0) fail(child);
            raw(SYS_close, null, 0, 0, 0);
        }
    }
    if (move_descriptor(request->standard_output, 1) < 0) fail(child);
    if (move_descriptor(request->standard_error, 2) < 0) fail(child);
    // close_range may be missing (before Linux 5.9) or refused by a seccomp filter older than
    // it (EPERM): then by the list in /proc/self/fd, as glibc falls back.
    if (raw(SYS_close_range, 3, ~0U, 0, 0) < 0 && close_listed_descriptors() < 0) fail(child);
    if (request->directory && raw(SYS_chdir, (long)request->directory, 0, 0, 0) < 0) fail(child);

    uint64_t empty = 0;
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8);
    raw(SYS_execve, (long)request->path, (long)request->argv, (long)request->environment, 0);
    fail(child);
}

int gw_spawn(const struct gw_spawn_request *request, pid_t *pid, int *pidfd) {
    struct gw_spawn_child child = {.request = request, .error = 0};

    void *stack = take_stack();
    if (!stack) return ENOMEM;
    // As posix_spawn: no cancellation while a child may still be on the borrowed stack.
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);

    // Every signal blocked, glibc's internal ones too (which pthread_sigmask would leave out):
    // no handler may run in the child before it has set the dispositions to default.
    uint64_t all = ~(uint64_t)0, saved = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, 8);
    int descriptor = -1;
    pid_t child_pid = __clone(child_main, (char *)stack + GW_SPAWN_STACK_SIZE,
                            CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &child, &descriptor);
    int clone_error = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, 8);
    // CLONE_VFORK: the child has called execve or exited by now, and is off the stack.
    give_stack(stack);

    int error = child_pid < 0 ? clone_error : child.error;
    if (child_pid > 0 && error == 0 && descriptor < 0) {
        // A kernel before 5.2 ignores CLONE_PIDFD: the command runs, but could not be watched.
        kill(-child_pid, SIGKILL);
        error = ENOSYS;
    }
    if (child_pid > 0 && error != 0) {
        // It exited 127 without running anything (or was just killed): reap it here, as
        // posix_spawn does.
        int status;
        while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {}
        if (descriptor >= 0) close(descriptor);
    }
    pthread_setcancelstate(cancel_state, NULL);
    if (error != 0) return error;
    *pid = child_pid;
    *pidfd = descriptor;
    return 0;
}
