// gw_spawn: posix_spawn for quick commands, without what glibc's costs a multithreaded daemon.
//
// glibc's posix_spawn maps a fresh stack for its CLONE_VM child at every call and unmaps it
// afterwards; in a process whose threads run on several CPUs, that munmap is a TLB shootdown
// (an IPI to every CPU running one of them, which the caller waits for) - measured on the
// daemon's spawn threads under 32 commands in flight: munmap 16.5 % and mmap 6 % of their time,
// pidfd_open another 5 %. Here the child's stacks are kept in a pool and reused, and the pidfd
// comes from clone itself (CLONE_PIDFD), race-free.
//
// And the caller does not wait for the child to reach execve (no CLONE_VFORK). With CLONE_VFORK
// the calling thread stops until then, which on a busy machine is the time the child waits for a
// core (often milliseconds): the daemon needed threads of its own just to wait there, and a hop
// to one and back per command. Here the child runs beside its parent in the parent's memory, on
// a slot of the pool that holds its own copy of everything it reads (path, arguments,
// environment, directory), and the slot is reused only once the kernel has said the child left
// it: CLONE_CHILD_CLEARTID makes the kernel zero the slot's `busy` word when the child execs or
// exits (mm_release, the moment CLONE_VFORK would have let the parent go). A failure before
// execve is written to the caller's `error` cell, which must outlive the child (it is read after
// the child was reaped), and the child exits 127.
//
// The child does what posix_spawn with the daemon's attributes did: a process group of its own,
// every signal's disposition back to default (a handler installed in the daemon must never run
// in the child, which shares its memory until exec; an ignored signal would stay ignored across
// exec), stdin (a pipe or /dev/null), stdout and stderr (made blocking), every other descriptor
// closed, the working directory, an empty signal mask, execve. Every step is a raw
// system call, made inline: the child runs on the parent thread's TLS pointer while that thread
// goes on, so it must not touch errno, the stack protector's canary, the sanitizers' state or any
// other libc state.
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

#if defined(__x86_64__) || defined(__aarch64__)
#define GW_SPAWN_DETACHED 1
#else
#define GW_SPAWN_DETACHED 0
#endif

/// A slot: the child's copy of what it reads at the bottom, its stack at the top. The child needs
/// little stack (a few system calls and a 1 KiB buffer); no guard page, as glibc's has none.
#define GW_SPAWN_SLOT_SIZE (64 * 1024)
#define GW_SPAWN_STACK_RESERVE (16 * 1024)
/// Slots kept for reuse: one per child not yet at execve (32 commands in flight on a busy
/// machine have a few at once). Past that, and for a request too large for one, a slot is mapped
/// for the one child and unmapped by a later spawn once the child has left it.
#define GW_SPAWN_POOL 64

/// Not instrumented at all, no stack protector: the child runs on the parent thread's TLS (the
/// canary, the sanitizers' state) while that thread goes on. ThreadSanitizer's function
/// entry/exit hooks, which `no_sanitize` alone still emits, would also unbalance the parent's
/// shadow stack (child_main never returns).
#define GW_CHILD __attribute__((disable_sanitizer_instrumentation, no_sanitize("address", "thread", "undefined"), no_stack_protector, noinline))

struct gw_spawn_child {
    const char *path;
    char *const *argv;
    char *const *environment;
    const char *directory;
    int standard_input;
    int standard_output;
    int standard_error;
    /// Written by the child before it exits 127.
    volatile int *error;
};

struct gw_spawn_slot {
    /// Nonzero while a child may be on the slot; the kernel zeroes it (CLONE_CHILD_CLEARTID).
    volatile pid_t busy;
    /// Stored (release) once a spawn has filled the slot, loaded (acquire) by the next taker:
    /// the kernel's zero in `busy` orders nothing for ThreadSanitizer, which would otherwise see
    /// the two threads' writes to the copies as a race (they are not: the child left first).
    unsigned long generation;
    /// Mapped for one child (too large a request, or the pool full): unmapped once free.
    int single_use;
    size_t size;
    struct gw_spawn_slot *next_single;
    struct gw_spawn_child child;
    /// The copies, then free space, then the stack.
    char data[] __attribute__((aligned(16)));
};

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_spawn_slot *pool[GW_SPAWN_POOL];
static int pool_count;
static struct gw_spawn_slot *single_slots;

static int slot_is_free(struct gw_spawn_slot *slot) {
    if (__atomic_load_n(&slot->busy, __ATOMIC_ACQUIRE) != 0) return 0;
    (void)__atomic_load_n(&slot->generation, __ATOMIC_ACQUIRE);
    return 1;
}

static struct gw_spawn_slot *map_slot(size_t size, int single_use) {
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (memory == MAP_FAILED) return NULL;
    struct gw_spawn_slot *slot = memory;
    slot->size = size;
    slot->single_use = single_use;
    slot->busy = 1;
    return slot;
}

/// A slot marked busy, with at least `needed` bytes of data space; NULL without memory.
static struct gw_spawn_slot *take_slot(size_t needed) {
    struct gw_spawn_slot *slot = NULL, *unmap = NULL;
    size_t standard = GW_SPAWN_SLOT_SIZE - GW_SPAWN_STACK_RESERVE - sizeof(struct gw_spawn_slot);
    pthread_mutex_lock(&slot_lock);
    // Single-use slots whose child has left: out of the list, unmapped below.
    for (struct gw_spawn_slot **link = &single_slots; *link;) {
        struct gw_spawn_slot *candidate = *link;
        if (slot_is_free(candidate)) {
            *link = candidate->next_single;
            candidate->next_single = unmap;
            unmap = candidate;
        } else {
            link = &candidate->next_single;
        }
    }
    if (needed <= standard) {
        for (int index = 0; index < pool_count && !slot; index++) {
            if (slot_is_free(pool[index])) {
                slot = pool[index];
                slot->busy = 1;
            }
        }
        if (!slot && pool_count < GW_SPAWN_POOL) {
            slot = map_slot(GW_SPAWN_SLOT_SIZE, 0);
            if (slot) pool[pool_count++] = slot;
        }
    }
    pthread_mutex_unlock(&slot_lock);
    while (unmap) {
        struct gw_spawn_slot *next = unmap->next_single;
        munmap(unmap, unmap->size);
        unmap = next;
    }
    if (slot) return slot;
    size_t size = sizeof(struct gw_spawn_slot) + needed + GW_SPAWN_STACK_RESERVE;
    size = (size + 4095) & ~(size_t)4095;
    return map_slot(size, 1);
}

/// Gives back a slot no child is on (clone failed, or CLONE_VFORK returned).
static void put_slot(struct gw_spawn_slot *slot) {
    if (slot->single_use) {
        munmap(slot, slot->size);
    } else {
        __atomic_store_n(&slot->busy, 0, __ATOMIC_RELEASE);
    }
}

/// A slot handed to a child that runs on: a single-use one joins the list to unmap once free.
static void hand_over_slot(struct gw_spawn_slot *slot) {
    if (!slot->single_use) return;
    pthread_mutex_lock(&slot_lock);
    slot->next_single = single_slots;
    single_slots = slot;
    pthread_mutex_unlock(&slot_lock);
}

int gw_spawn_single_use_slots(void) {
    int count = 0;
    pthread_mutex_lock(&slot_lock);
    for (struct gw_spawn_slot *slot = single_slots; slot; slot = slot->next_single) count++;
    pthread_mutex_unlock(&slot_lock);
    return count;
}

static size_t string_size(const char *string) { return string ? strlen(string) + 1 : 0; }

static size_t vector_size(char *const *vector) {
    size_t size = sizeof(char *);
    for (; *vector; vector++) size += sizeof(char *) + strlen(*vector) + 1;
    return size;
}

static char *copy_string(char **cursor, const char *string) {
    if (!string) return NULL;
    size_t length = strlen(string) + 1;
    char *copy = memcpy(*cursor, string, length);
    *cursor += length;
    return copy;
}

/// Copies a NULL-terminated vector: the pointers at `*pointers`, the strings at `*cursor`.
static char *const *copy_vector(char ***pointers, char **cursor, char *const *vector) {
    char **copy = *pointers;
    size_t count = 0;
    for (; vector[count]; count++) copy[count] = copy_string(cursor, vector[count]);
    copy[count] = NULL;
    *pointers += count + 1;
    return copy;
}

// MARK: - The child

/// A system call without libc: the result, or -errno. (libc's syscall() sets errno, which lives in
/// the parent thread's TLS.)
GW_CHILD static long raw(long number, long a, long b, long c, long d) {
#if defined(__x86_64__)
    long result;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return result;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
    // Only with CLONE_VFORK (GW_SPAWN_DETACHED 0): the parent thread is stopped meanwhile.
    long result = syscall(number, a, b, c, d);
    return result < 0 ? -errno : result;
#endif
}

GW_CHILD static _Noreturn void fail(struct gw_spawn_child *child, long result) {
    *child->error = result < 0 && result > -4096 ? (int)-result : ECHILD;
    raw(SYS_exit_group, 127, 0, 0, 0);
    __builtin_unreachable();
}

GW_CHILD static long move_descriptor(int from, int to) {
    // Already in place: only the close-on-exec flag must go (dup3 refuses equal numbers).
    // dup3, not dup2: arm64 and the other generic-table architectures have no dup2.
    if (from == to) return raw(SYS_fcntl, from, F_SETFD, 0, 0);
    return raw(SYS_dup3, from, to, 0, 0);
}

/// Closes every descriptor from 3 up, as listed in /proc/self/fd (read with getdents64 into a
/// buffer on this stack), from the start again after each pass that closed any. Without /proc,
/// every number below RLIMIT_NOFILE (at most 2^20), read here: only this rare path needs it, not
/// every spawn. 0, or -errno.
GW_CHILD static long close_listed_descriptors(void) {
    long directory = raw(SYS_openat, AT_FDCWD, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (directory < 0) {
        struct rlimit limit = {1024, 1024};
        raw(SYS_getrlimit, RLIMIT_NOFILE, (long)&limit, 0, 0);
        long end = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (1 << 20) ? (1 << 20) : (long)limit.rlim_cur;
        for (long fd = 3; fd < end; fd++) raw(SYS_close, fd, 0, 0, 0);
        return 0;
    }
    char buffer[1024] __attribute__((aligned(8), uninitialized));
    int closed_any;
    do {
        closed_any = 0;
        long result = raw(SYS_lseek, directory, 0, SEEK_SET, 0);
        if (result < 0) return result;
        for (;;) {
            long length = raw(SYS_getdents64, directory, (long)buffer, sizeof buffer, 0);
            if (length < 0) return length;
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

/// SIG_DFL in the kernel's struct sigaction (glibc's refuses its internal signals). Read-only
/// data: a local initialised in the child is a call to libc's memset in an unoptimised build.
static const struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
} default_action = {SIG_DFL, 0, 0, 0};

GW_CHILD static int child_main(void *argument) {
    struct gw_spawn_child *child = argument;
    long result;

    // A group of its own first: until then a signal to the daemon's group is one to it too (the
    // parent sets the group as well, right after clone, for whichever comes first).
    if ((result = raw(SYS_setpgid, 0, 0, 0, 0)) < 0) fail(child, result);
    // Every disposition to the default (signals are all blocked here, inherited from the
    // parent, until the mask is emptied just before execve).
    for (long sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        raw(SYS_rt_sigaction, sig, (long)&default_action, 0, 8);
    }

    if (child->standard_input >= 0) {
        if ((result = move_descriptor(child->standard_input, 0)) < 0) fail(child, result);
    } else {
        long null = raw(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY, 0);
        if (null < 0) fail(child, null);
        if (null != 0) {
            if ((result = raw(SYS_dup3, null, 0, 0, 0)) < 0) fail(child, result);
            raw(SYS_close, null, 0, 0, 0);
        }
    }
    if ((result = move_descriptor(child->standard_output, 1)) < 0) fail(child, result);
    if ((result = move_descriptor(child->standard_error, 2)) < 0) fail(child, result);
    // The parent makes its pipes with O_NONBLOCK on both ends (one pipe2 call instead of a
    // pipe2 and an fcntl each): the child's ends are blocking again, here, off the parent's CPU.
    if ((result = raw(SYS_fcntl, 1, F_SETFL, 0, 0)) < 0) fail(child, result);
    if ((result = raw(SYS_fcntl, 2, F_SETFL, 0, 0)) < 0) fail(child, result);
    // close_range may be missing (before Linux 5.9) or refused by a seccomp filter older than
    // it (EPERM): then by the list in /proc/self/fd, as glibc falls back.
    if (raw(SYS_close_range, 3, ~0U, 0, 0) < 0 && (result = close_listed_descriptors()) < 0) fail(child, result);
    if (child->directory && (result = raw(SYS_chdir, (long)child->directory, 0, 0, 0)) < 0) fail(child, result);

    uint64_t empty = 0;
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8);
    result = raw(SYS_execve, (long)child->path, (long)child->argv, (long)child->environment, 0);
    fail(child, result);
}

// MARK: - The parent

/// glibc's clone under the name sanitizers do not intercept: ThreadSanitizer's `clone`
/// interceptor treats the child as a fork and, with CLONE_VM, runs its after-fork code on the
/// parent's own state (glibc's posix_spawn calls an internal clone, never intercepted either).
extern int __clone(int (*function)(void *), void *stack, int flags, void *argument, ...);

int gw_spawn(const struct gw_spawn_request *request, volatile int *error, pid_t *pid, int *pidfd) {
    int detached = GW_SPAWN_DETACHED;
    size_t needed = 0;
    if (detached) {
        needed = string_size(request->path) + string_size(request->directory)
            + vector_size(request->argv) + vector_size(request->environment) + 16;
    }
    struct gw_spawn_slot *slot = take_slot(needed);
    if (!slot) return ENOMEM;

    int vfork_error = 0;
    struct gw_spawn_child *child = &slot->child;
    child->standard_input = request->standard_input;
    child->standard_output = request->standard_output;
    child->standard_error = request->standard_error;
    if (detached) {
        // The pointer arrays first (aligned), then the strings.
        size_t pointer_count = 2;
        for (char *const *v = request->argv; *v; v++) pointer_count++;
        for (char *const *v = request->environment; *v; v++) pointer_count++;
        char **pointers = (char **)slot->data;
        char *cursor = slot->data + pointer_count * sizeof(char *);
        child->argv = copy_vector(&pointers, &cursor, request->argv);
        child->environment = copy_vector(&pointers, &cursor, request->environment);
        child->path = copy_string(&cursor, request->path);
        child->directory = copy_string(&cursor, request->directory);
        child->error = error;
    } else {
        child->path = request->path;
        child->argv = request->argv;
        child->environment = request->environment;
        child->directory = request->directory;
        child->error = &vfork_error;
    }
    *error = 0;
    char *stack_top = (char *)slot + slot->size;
    __atomic_store_n(&slot->generation, slot->generation + 1, __ATOMIC_RELEASE);

    // As posix_spawn: no cancellation between the clone and the slot's hand-over.
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    // Every signal blocked, glibc's internal ones too (which pthread_sigmask would leave out):
    // no handler may run in the child before it has set the dispositions to default.
    uint64_t all = ~(uint64_t)0, saved = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, 8);
    int descriptor = -1;
    int flags = CLONE_VM | CLONE_PIDFD | CLONE_CHILD_CLEARTID | SIGCHLD | (detached ? 0 : CLONE_VFORK);
    pid_t child_pid = __clone(child_main, stack_top, flags, child, &descriptor, NULL, &slot->busy);
    int clone_error = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, 8);

    int result = 0;
    if (child_pid < 0) {
        put_slot(slot);
        result = clone_error;
    } else if (detached) {
        hand_over_slot(slot);
        // The group exists from here on, whether or not the child got to its own setpgid: a
        // cancellation or timeout that comes first signals it (EACCES once it has exec'd).
        setpgid(child_pid, child_pid);
    } else {
        // CLONE_VFORK: the child has called execve or exited by now, and is off the slot.
        put_slot(slot);
        result = vfork_error;
    }
    if (child_pid > 0 && result == 0 && descriptor < 0) {
        // A kernel before 5.2 ignores CLONE_PIDFD: the command would run, but could not be
        // watched. (Killed by pid: it may not have a group of its own yet.)
        kill(child_pid, SIGKILL);
        result = ENOSYS;
    }
    if (child_pid > 0 && result != 0) {
        // It exited 127 without running anything (or was just killed): reap it here, as
        // posix_spawn does.
        int status;
        while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {}
        if (descriptor >= 0) close(descriptor);
    }
    pthread_setcancelstate(cancel_state, NULL);
    if (result != 0) return result;
    *pid = child_pid;
    *pidfd = descriptor;
    return 0;
}
