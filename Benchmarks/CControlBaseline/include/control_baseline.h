// The C floor for the control socket benchmark: a Unix stream server that answers each
// NUL-terminated request with a fixed reply (a thread per connection), and clients that time
// request/response round trips against any server speaking NUL-framed messages.
#ifndef CONTROL_BASELINE_H
#define CONTROL_BASELINE_H
#include <stddef.h>
#include <stdint.h>

/// Starts the fixed-reply server on `path` in background threads. 0 or an errno value.
int gwc_server_start(const char *path, const char *reply);

/// `count` sequential round trips of `request` (NUL added) on one connection; latencies_ns[i].
int gwc_round_trips(const char *path, const char *request, int count, uint64_t *latencies_ns);
/// As gwc_round_trips, and each reply's "duration_usec" (0 when absent) into durations_us.
int gwc_round_trips_with_durations(const char *path, const char *request, int count, uint64_t *latencies_ns,
                                   uint64_t *durations_us);

/// `clients` connections, each doing round trips for `seconds`; *completed gets the total.
int gwc_throughput(const char *path, const char *request, int clients, double seconds, uint64_t *completed);

/// One request on a fresh connection; its reply (NUL-terminated, truncated to `size`) in `reply`.
int gwc_request(const char *path, const char *request, char *reply, size_t size);

/// `clients` connections send SendMessage "hi" from distinct chats `<prefix><first>` ..
/// `<prefix><first + count - 1>` (each number once, shared out as the clients ask); *completed
/// gets how many were answered.
int gwc_distinct_senders(const char *path, const char *prefix, uint64_t first, uint64_t count, int clients,
                         uint64_t *completed);

#endif
