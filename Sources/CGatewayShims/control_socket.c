// The control socket's creation and its peers' identity: what Swift and SwiftNIO cannot reach.
#define _GNU_SOURCE
#include "gateway_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int gw_peer_groups(int fd, gid_t *groups, int capacity, int *needed) {
    socklen_t length = (socklen_t)((size_t)capacity * sizeof(gid_t));
    *needed = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &length) != 0) {
        if (errno == ERANGE) *needed = (int)(length / sizeof(gid_t));
        return -1;
    }
    return (int)(length / sizeof(gid_t));
}

int gw_peer_pidfd(int fd) {
    int pidfd = -1;
    socklen_t length = sizeof(pidfd);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) != 0) return -1;
    return pidfd;
}

int gw_pidfd_alive(int pidfd) {
    // Signal 0 checks permission as kill() does: EPERM (a root peer of an unprivileged daemon)
    // still means the process exists; only ESRCH says it is gone.
    return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM;
}

/// The work of gw_unix_listen, on a thread of its own (see there).
struct listen_request {
    const char *path;
    mode_t mode;
    int backlog;
    int fd;
    int error;
    int private_umask;
};

static void *listen_thread(void *argument) {
    struct listen_request *request = argument;
    struct sockaddr_un address;
    size_t length = strlen(request->path);
    request->fd = -1;
    if (length == 0 || length >= sizeof(address.sun_path)) { request->error = ENAMETOOLONG; return NULL; }
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, request->path, length);

    // This thread's own umask: the rest of the process (threads spawning quick commands, which
    // inherit the umask) never sees the temporary one.
    request->private_umask = unshare(CLONE_FS) == 0;
    if (request->private_umask) umask(0);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) { request->error = errno; return NULL; }
    // The file bind() creates takes its mode from the socket's inode, less the umask: set there,
    // the socket file never exists with a looser mode, not even for a moment.
    if (fchmod(fd, request->mode) != 0) goto fail;

    struct stat existing;
    if (lstat(request->path, &existing) == 0) {
        // Only a (stale) socket is replaced; a symlink or any other file is left alone.
        if (!S_ISSOCK(existing.st_mode)) { errno = EEXIST; goto fail; }
        // Stale only if nobody answers: a socket someone still listens on (another gatewayd,
        // the socket unit's) is not taken away from them. Refused means stale; anything else
        // (it answers, or it cannot be tried) leaves it alone.
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0) goto fail;
        int answered = connect(probe, (struct sockaddr *)&address, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + 1));
        int probe_error = errno;
        close(probe);
        if (answered == 0) { errno = EADDRINUSE; goto fail; }
        if (probe_error != ECONNREFUSED) { errno = probe_error; goto fail; }
        if (unlink(request->path) != 0 && errno != ENOENT) goto fail;
    } else if (errno != ENOENT) {
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&address, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + 1)) != 0) goto fail;
    if (listen(fd, request->backlog) != 0) { int saved = errno; unlink(request->path); errno = saved; goto fail; }
    request->fd = fd;
    return NULL;
fail:
    request->error = errno;
    close(fd);
    return NULL;
}

int gw_unix_listen(const char *path, unsigned int mode, int backlog, int *private_umask) {
    struct listen_request request = { .path = path, .mode = (mode_t)(mode & 07777), .backlog = backlog };
    pthread_t thread;
    int result = pthread_create(&thread, NULL, listen_thread, &request);
    if (result != 0) { errno = result; return -1; }
    pthread_join(thread, NULL);
    *private_umask = request.private_umask;
    if (request.fd < 0) errno = request.error;
    return request.fd;
}

int gw_unix_listener_pid(const char *path, pid_t *pid) {
    struct sockaddr_un address;
    socklen_t length = gw_fill_unix_address(&address, path);
    *pid = 0;
    if (length == 0) return -1;
    // Non-blocking: a listener whose backlog is full answers EAGAIN at once instead of holding
    // the caller (it is alive all the same).
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int result;
    if (connect(fd, (struct sockaddr *)&address, length) == 0) {
        struct ucred credentials;
        socklen_t size = sizeof(credentials);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0) *pid = credentials.pid;
        result = 1;
    } else if (errno == EAGAIN) {
        result = 1;
    } else if (errno == ECONNREFUSED || errno == ENOENT || errno == ENOTSOCK || errno == ENOTDIR) {
        result = 0;
    } else {
        result = -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

/// Opens the socket file at `path` without following a symlink, and checks that it is a socket.
static int open_socket_file(const char *path) {
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat info;
    if (fstat(fd, &info) != 0) { int saved = errno; close(fd); errno = saved; return -1; }
    if (!S_ISSOCK(info.st_mode)) { close(fd); errno = ENOTSOCK; return -1; }
    return fd;
}

int gw_socket_file_chown_group(const char *path, gid_t group) {
    int fd = open_socket_file(path);
    if (fd < 0) return -1;
    int result = fchownat(fd, "", (uid_t)-1, group, AT_EMPTY_PATH);
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

int gw_socket_file_chmod(const char *path, unsigned int mode) {
    int fd = open_socket_file(path);
    if (fd < 0) return -1;
    // chmod has no AT_EMPTY_PATH form before Linux 6.6's fchmodat2; /proc/self/fd/N names the
    // very inode opened above (an O_PATH descriptor is not followed any further).
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int result = chmod(proc, (mode_t)(mode & 07777));
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}
