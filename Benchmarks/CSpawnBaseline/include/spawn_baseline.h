// The C floor the ProcessRunner benchmark compares against: posix_spawn of /bin/sh -c with the
// same attributes as the runner (own process group, signal mask and dispositions reset, stdin
// /dev/null, stdout and stderr on pipes, other fds closed), collected with poll(2) and waitpid(2).
#ifndef SPAWN_BASELINE_H
#define SPAWN_BASELINE_H
#include <stddef.h>
#include <stdint.h>

/// Spawns `/bin/sh -c command`, reads stdout (up to cap bytes kept) and stderr to end of file,
/// reaps it. Returns 0 and fills *out_len and *wait_status, or an errno value.
int gwb_spawn_collect(const char *command, char *out, size_t cap, size_t *out_len, int *wait_status);

/// `total` spawn_collect calls spread over `threads` threads; latencies_ns[i] gets each call's
/// time. Returns 0 or the first errno seen.
int gwb_run_concurrent(const char *command, int threads, int total, uint64_t *latencies_ns);

#endif
