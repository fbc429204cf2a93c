// Small C entry points for what Swift cannot reach directly: names that glibc only declares under
// _GNU_SOURCE (which must be defined before the first system header, so it cannot live in a header
// that Swift's module importer shares), raw Linux syscalls, and control-message parsing macros.
#ifndef GATEWAY_SHIMS_H
#define GATEWAY_SHIMS_H

#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/// What gw_spawn starts (see spawn.c).
struct gw_spawn_request {
    /// Run as given (no PATH search).
    const char *path;
    char *const *argv;
    char *const *environment;
    /// The child's stdin; -1 for /dev/null.
    int standard_input;
    int standard_output;
    int standard_error;
    /// The child's working directory; NULL to keep the daemon's.
    const char *directory;
};
/// posix_spawn with the attributes of a quick command (a process group of its own, default
/// signal dispositions, an empty mask, descriptors 0-2 as given and no other), its stack reused,
/// its pidfd from clone, and no wait for the child to reach execve. 0 with *pid and *pidfd set
/// (close-on-exec): the child runs, or failed before execve and then exits 127 with the errno
/// value in *error (written before it exits: read it once the child was reaped, and keep the cell
/// until then). An errno value: nothing was started.
int gw_spawn(const struct gw_spawn_request *request, volatile int *error, pid_t *pid, int *pidfd);

/// Slots mapped for one child (a request too large for the pool's) not yet unmapped: each is
/// unmapped by the first spawn after its child has left it. For tests.
int gw_spawn_single_use_slots(void);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34): close every fd >= from in the child.
int gw_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);
/// The POSIX_SPAWN_* flag bits, as one value each (macros Swift may not import).
short gw_spawn_flag_setsigmask(void);
short gw_spawn_flag_setsigdef(void);

/// pipe2(fds, O_CLOEXEC).
int gw_pipe_cloexec(int fds[2]);
/// pipe2(fds, O_CLOEXEC | O_NONBLOCK): both ends non-blocking (gw_spawn makes the child's stdout
/// and stderr blocking again, in the child).
int gw_pipe_cloexec_nonblock(int fds[2]);

/// pidfd_open(2); -1 with errno on failure.
int gw_pidfd_open(pid_t pid, unsigned int flags);

/// Whether the leader `pid` has exited, without blocking: 1 exited (code set), 2 killed by a
/// signal (signal set), 0 still running, -1 with errno. With reap == 0 the child is left a zombie
/// (waitid's WNOWAIT), so its pid, and with it the process group's id, cannot be reused yet.
int gw_wait_exit(pid_t pid, int reap, int *code, int *signal);
/// pidfd_send_signal(2) to the process group of the pidfd's process (PIDFD_SIGNAL_PROCESS_GROUP,
/// Linux 6.9): the group of that very process, found through the pidfd's struct pid, so never a
/// later group that reuses the number. 0, or -1 with errno (EINVAL: the kernel lacks the flag).
int gw_pidfd_signal_group(int pidfd, int signal);
/// SO_PEERCRED of a connected Unix socket. 0 on success, -1 with errno.
int gw_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/// Connect a SOCK_STREAM Unix socket to path ('@' = abstract). Returns the fd or -1 with errno.
int gw_unix_connect(const char *path);
/// Fills a Unix socket address for path ('@' = abstract); its length, or 0 with errno
/// ENAMETOOLONG. (Also the test shims' gw_unix_bind.)
struct sockaddr_un;
socklen_t gw_fill_unix_address(struct sockaddr_un *addr, const char *path);

/// CLOCK_MONOTONIC in microseconds, the clock sd_notify's MONOTONIC_USEC speaks.
uint64_t gw_monotonic_usec(void);
/// CLOCK_MONOTONIC in nanoseconds.
uint64_t gw_monotonic_nsec(void);
/// Starts a detached thread that names itself `name` (15 bytes at most, for top -H, perf and
/// gdb) and runs `body(context)`. Returns 0 or pthread_create's error.
int gw_start_thread(const char *name, void (*body)(void *context), void *context);

/// A CLOCK_MONOTONIC timerfd (close-on-exec, non-blocking).
int gw_timerfd(void);
/// Arms the timerfd to fire once at the absolute CLOCK_MONOTONIC time (nanoseconds).
int gw_timerfd_arm(int fd, uint64_t deadline_nsec);
/// epoll_create1(EPOLL_CLOEXEC).
int gw_epoll_create(void);
/// Adds fd for input readiness (EPOLLIN; hang-up and errors are always reported) with a token.
int gw_epoll_add(int epfd, int fd, uint64_t token);
/// EPOLL_CTL_ADD for EPOLLIN | EPOLLONESHOT: reported once, then disabled (an exited child's
/// pidfd stays readable; disabled, it needs no EPOLL_CTL_DEL before its close).
int gw_epoll_add_oneshot(int epfd, int fd, uint64_t token);
/// EPOLL_CTL_MOD: a oneshot registration that fired, enabled again.
int gw_epoll_rearm_oneshot(int epfd, int fd, uint64_t token);
/// Removes fd from the set. Call before close(): a copy of the fd held by a child that is between
/// posix_spawn's clone and exec keeps the registration alive after close() otherwise.
int gw_epoll_del(int epfd, int fd);
/// epoll_wait, unpacking the (packed on x86_64) epoll_event array into tokens.
int gw_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms);

/// Blocks the signals in the calling thread (threads it starts later inherit the mask). 0 or an errno.
int gw_block_signals(const int *signals, int count);
/// A signalfd (close-on-exec) for the signals, which must be blocked in every thread. -1 with errno.
int gw_signalfd(const int *signals, int count);
/// Waits for the next signal on signal_fd, or for wake_fd to become readable: the signal's
/// number, 0 when woken, -1 on error.
int gw_signalfd_next(int signal_fd, int wake_fd);
/// eventfd(0, EFD_CLOEXEC).
int gw_eventfd(void);
/// Adds 1 to an eventfd (wakes whoever polls it). 0 or -1 with errno.
int gw_eventfd_signal(int fd);

// The control socket (control_socket.c).

/// SO_PEERGROUPS of a connected Unix socket: the peer's supplementary groups when it connected,
/// into groups (room for capacity). Returns the count, or -1 with errno; on ERANGE, *needed is
/// the count that would fit.
int gw_peer_groups(int fd, gid_t *groups, int capacity, int *needed);
/// SO_PEERPIDFD (Linux 6.5+): a pidfd for the process that connected, which cannot be confused
/// with a later process that reuses its pid. -1 with errno (ENOPROTOOPT on older kernels).
int gw_peer_pidfd(int fd);
/// 1 while the process behind the pidfd exists (not yet reaped), 0 once it is gone.
int gw_pidfd_alive(int pidfd);
/// A listening Unix stream socket at path whose file is created with `mode` (no window with a
/// looser one): bound on a thread with its own umask. A stale socket at path is replaced; any
/// other file there, a symlink included, is left alone (EEXIST). *private_umask is 0 when the
/// thread could not get a umask of its own: then the file has mode less the process umask
/// (never looser than asked) and gw_socket_file_chmod can widen it. Returns the fd or -1.
int gw_unix_listen(const char *path, unsigned int mode, int backlog, int *private_umask);
/// Who listens on the Unix socket at path, asked without blocking: 1 when someone does (*pid is
/// the listener's, from SO_PEERCRED: the process that called listen(); 0 when the kernel cannot
/// say, as when its backlog is full or it is in another PID namespace), 0 when nobody answers
/// (no file, not a socket, a stale socket), -1 with errno when it cannot be told.
int gw_unix_listener_pid(const char *path, pid_t *pid);
/// Gives the socket file at path the group, without following a symlink (ENOTSOCK when path is
/// not a socket, ELOOP when it is a symlink). 0 or -1 with errno.
int gw_socket_file_chown_group(const char *path, gid_t group);
/// Sets the mode of the socket file at path, without following a symlink. 0 or -1 with errno.
int gw_socket_file_chmod(const char *path, unsigned int mode);

#endif
