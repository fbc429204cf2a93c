// IRC users for the IRC adapter benchmark: each registers with the server, sends its messages
// to the bot as private messages, and reads until every reply came back.
#ifndef IRC_LOAD_H
#define IRC_LOAD_H
#include <stdint.h>

/// `users` connections to 127.0.0.1:`port`, each sending `messages` PRIVMSGs to `bot` once
/// registered, in windows of `window` unanswered messages. *elapsed_ns: from the first message
/// sent to the last reply read. 0 or an errno value (ETIMEDOUT when replies stop coming).
int gwi_irc_load(int port, const char *bot, int users, int messages, int window, uint64_t *elapsed_ns);

#endif
