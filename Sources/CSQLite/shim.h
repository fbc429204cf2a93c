#include <sqlite3.h>
// SQLITE_TRANSIENT is a cast macro Swift cannot import: SQLite copies bound text with it.
static inline void (*gw_sqlite_transient(void))(void *) { return SQLITE_TRANSIENT; }
