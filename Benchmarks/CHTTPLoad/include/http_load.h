// A small HTTP/1.1 load client for the webhook benchmark (no wrk on these machines): keep-alive
// connections, each sending the same request and reading each response by Content-Length.
#ifndef HTTP_LOAD_H
#define HTTP_LOAD_H
#include <stdint.h>

/// `clients` connections to 127.0.0.1:`port`, each sending `request` (a whole HTTP request) and
/// reading the response, for `seconds`. *completed: responses with status 200; *failed: others.
/// 0 or an errno value.
int gwh_load(int port, const char *request, int clients, double seconds, uint64_t *completed, uint64_t *failed);

/// Hostile peers, for the memory benchmarks (`gatewayd-webhook-bench --attack ...`). Each fills
/// fds[0..<count] with its connections (-1 for one that failed).
/// Slowloris: `count` connections, each sending an unfinished head. Returns how many sent it.
int gwh_slowloris(int port, int count, int *fds);
/// One more header byte on each connection still open (closing those the server closed).
/// Returns how many are still open.
int gwh_dribble(int *fds, int count);
/// `count` connections, each POSTing a `body_size`-byte body under `signature` (a header value),
/// reading the start of the answer, then left open and idle. Returns how many got a 4xx.
int gwh_rejected_bodies(int port, int count, int body_size, const char *signature, int *fds);
/// How many of the connections the server has not closed.
int gwh_count_open(int *fds, int count);
void gwh_close_all(int *fds, int count);

#endif
