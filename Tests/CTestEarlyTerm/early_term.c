// Preloaded into a gatewayd by EarlyStopTests (LD_PRELOAD): SIGTERM to the process from a
// shared library's initialiser, which runs after the executable's .preinit_array and before
// every constructor of the executable and its `main`. The signal must wait, blocked, for
// gatewayd's signal service: a drain, STOPPING=1 and exit 0.
//
// Only when GATEWAYD_TEST_EARLY_TERM is 1, so that nothing else that loads it is stopped.
#include "early_term.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor))
static void gw_test_early_term(void) {
    const char *wanted = getenv("GATEWAYD_TEST_EARLY_TERM");
    if (wanted != NULL && strcmp(wanted, "1") == 0) kill(getpid(), SIGTERM);
}

int gw_test_early_term_linked(void) { return 1; }
