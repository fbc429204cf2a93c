// IRC users for the IRC adapter benchmark: each registers with the server, sends its messages
// to the bot as private messages, and reads until every reply came back.
#ifndef IRC_LOAD_H
#define IRC_LOAD_H
#include <stdint.h>

/// `users` connections to 127.0.0.1:`port`, each sending `messages` PRIVMSGs to `bot` once
/// registered, in windows of `window` unanswered messages. *elapsed_ns: from the first message
/// sent to the last reply read. 0 or an errno value (ETIMEDOUT when replies stop coming).
int gwi_irc_load(int port, const char *bot, int users, int messages, int window, uint64_t *elapsed_ns);

/// `users` IRC users on one thread: each registers as s<i>, and once all are welcomed each sends
/// `messages` private messages to `bot`, then reads and discards until stopped.
struct gwi_strangers;
struct gwi_strangers *gwi_strangers_start(int port, const char *bot, int users, int messages);
void gwi_strangers_counts(struct gwi_strangers *s, int *registered, int *failed, long *sent, long *replies);
void gwi_strangers_stop(struct gwi_strangers *s);

/// A registered IRC connection as `nick` (blocking), or -1.
int gwi_irc_connect(int port, const char *nick);
/// Sends `text` to `bot` and reads until a line contains `needle`: 0 and its latency, or ETIMEDOUT.
int gwi_irc_ask(int fd, const char *bot, const char *text, const char *needle, int timeout_ms, uint64_t *latency_ns);

#endif
