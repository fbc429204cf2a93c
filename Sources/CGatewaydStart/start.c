// gatewayd's lifecycle signals, blocked before anything else of the process runs.
//
// Swift's `main` (GatewaydMain) blocks them as its first instruction, but the constructors of
// the statically linked Swift runtime and libraries run before it: a few milliseconds after
// exec in which a SIGTERM (`systemctl stop` right after `start`) took its default action and
// killed the daemon without a drain. A constructor of the first priority runs before those.
// The set must match `LifecycleSignals.all` (SIGUSR2, a test hook, is added by main).
#include "gatewayd_start.h"
#include <pthread.h>
#include <signal.h>

__attribute__((constructor(101)))
static void gw_block_lifecycle_signals_early(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int gw_start_linked(void) { return 1; }
