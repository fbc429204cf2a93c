// gatewayd's lifecycle signals, blocked before anything else of the process runs.
//
// Swift's `main` (GatewaydMain) blocks them as its first instruction, but the initialisers of
// the shared libraries (libc's, libstdc++'s, ...) and the constructors of the statically linked
// Swift runtime run before it: 1-5 ms after exec for the static build, in which a SIGTERM
// (`systemctl stop` right after `start`) took its default action and killed the daemon
// without a drain. A function in the executable's .preinit_array runs before all of them: the
// dynamic loader calls it right after relocating (about 0.4 ms after exec here), before the
// first shared library's initialiser. Earlier than that no code of the process runs at all.
// The set must match `LifecycleSignals.all` (SIGUSR2, a test hook, is added by main).
#include "gatewayd_start.h"
#include <pthread.h>
#include <signal.h>

static void gw_block_lifecycle_signals_early(int argc, char **argv, char **envp) {
    (void)argc; (void)argv; (void)envp;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

__attribute__((section(".preinit_array"), used))
static void (*const gw_preinit)(int, char **, char **) = gw_block_lifecycle_signals_early;

// A C library that ignores .preinit_array (musl) still gets the block from the first constructor;
// blocking twice is harmless.
__attribute__((constructor(101)))
static void gw_block_lifecycle_signals_constructor(void) {
    gw_block_lifecycle_signals_early(0, 0, 0);
}

int gw_start_linked(void) { return 1; }
