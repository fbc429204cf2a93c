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

    func reloadConfiguration() async throws(ConfigError) {
        notify { try $0.reloading(status: "Reloading") }
        do {
            // The check a start runs (a missing --config file, the adapters' own settings): a
            // file that would not start is refused here, not at the next restart.
            let checked = try StartupCheck(path: configPath, explicit: configExplicit)
            let outcome = checked.outcome
            for warning in checked.warnings {
                logger.warning("\(configPath): \(warning)", metadata: ["event": "config_warning"])
            }
            var reloaded = outcome.config
            if let stateDirectoryOverride { reloaded.stateDirectory = stateDirectoryOverride }
            config = reloaded
            await dispatcher.reload(reloaded)
            // control.admin_group as the new file says, and the group database says now.
            applyControlPermissions(controlPermissions(reloaded))
            let source = fileExists(configPath) ? "from \(configPath)" : "(no file at \(configPath): built-in defaults)"
            logger.info("configuration reloaded \(source)", metadata: ["event": "reload", "MESSAGE_ID": "\(GatewayMessageID.reloaded)"])
        } catch let error as ConfigError {
            logger.error("reload refused, the old configuration stays: \(error)", metadata: [
                "event": "reload_failed", "MESSAGE_ID": "\(GatewayMessageID.reloadRefused)",
            ])
            let line = status.lastLine
            notify { try $0.ready(status: line) }
            throw error
        } catch {
            let line = status.lastLine
            notify { try $0.ready(status: line) }
            throw ConfigError(file: configPath, problems: [])
        }
        let line = status.reset(to: await dispatcher.snapshot, platformCount: platformNames.count)
        notify { try $0.ready(status: line) }
    }

}
