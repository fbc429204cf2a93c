// A small HTTP/1.1 load client for the webhook benchmark (no wrk on these machines): keep-alive
// connections, each sending the same request and reading each response by Content-Length.
#ifndef HTTP_LOAD_H
#define HTTP_LOAD_H
#include <stdint.h>

/// `clients` connections to 127.0.0.1:`port`, each sending `request` (a whole HTTP request) and
/// reading the response, for `seconds`. *completed: responses with status 200; *failed: others.
/// 0 or an errno value.
int gwh_load(int port, const char *request, int clients, double seconds, uint64_t *completed, uint64_t *failed);

#endif
