// The SIGUSR2 test hook (with GATEWAYD_TEST_HOOKS=1) is the daemon's one use of testing SPI.
@_spi(Testing) import GatewayCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    // MARK: Signals and reload

    /// One lifecycle signal, as `SignalService` reads it.
    func handle(signal number: Int32) async {
        switch number {
        case SIGUSR2:
            logger.warning("test hook: wedging the dispatcher", metadata: ["event": "test_wedge"])
            // Test hook: the dispatcher blocks for good, as a deadlock would, and the watchdog
            // stops pinging; this task is meant never to end (systemd kills the process).
            let dispatcher = self.dispatcher
            Task.detached { await dispatcher.wedgeForTesting() }
        case SIGHUP:
            await reloadWhenReady()
        case SIGUSR1:
            await requestShutdown(.restart)
        default:
            let state = await dispatcher.state
            if state.refusesNewWork && state.reason != .admin {
                logger.notice("second stop signal: interrupting the remaining turns now", metadata: ["event": "stop_now"])
                await dispatcher.interruptTurnsNow()
            } else {
                // Also during an admin drain, which then becomes a stop.
                await requestShutdown(.stop)
            }
        }
    }
}
