// C entry points that only the tests and the benchmarks call (never the shipped binaries), kept
// out of CGatewayShims so that gatewayd carries no test code: a pid-exact sleeper, wait-status
// decoding, SCM_CREDENTIALS receiving (a fake notify socket), binding Unix sockets, free ports.
#ifndef GATEWAY_TEST_SHIMS_H
#define GATEWAY_TEST_SHIMS_H

#include <sys/types.h>
#include <stddef.h>

/// Starts `/bin/sleep seconds` as a new process group leader with exactly the pid
/// `pid` (clone3's set_tid; needs CAP_CHECKPOINT_RESTORE). Its pid, or -1 with errno (EEXIST:
/// the number is in use, a zombie's included).
pid_t gw_spawn_sleeper_with_pid(pid_t pid, const char *seconds);

/// Decoded wait(2) status: 1 if exited (code set), 2 if killed by a signal (signal set), 0 otherwise.
int gw_decode_wait_status(int status, int *code, int *signal);

/// Turn on SO_PASSCRED so that recvmsg carries the sender's credentials.
int gw_enable_passcred(int fd);
/// recvmsg with SCM_CREDENTIALS; *pid/*uid/*gid are -1 when none came. Returns bytes or -1.
ssize_t gw_recv_with_credentials(int fd, void *buffer, size_t length,
                                 pid_t *pid, uid_t *uid, gid_t *gid);

/// Bind a SOCK_DGRAM (or SOCK_STREAM when stream != 0) Unix socket at path; a leading '@' means the
/// abstract namespace. Returns the fd or -1 with errno.
int gw_unix_bind(const char *path, int stream);
/// A TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral range (so that no outgoing
/// connection takes it before its server binds it), for
/// tests and benchmarks that start a server which cannot bind port 0 itself. -1 on error.
int gw_free_loopback_port(void);

/// Installs a seccomp filter on this process (and its future children) under which close_range(2)
/// fails with EPERM, as under a filter older than the call. 0, or -1 with errno.
int gw_test_deny_close_range(void);

#endif
