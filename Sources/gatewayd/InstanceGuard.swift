import ArgumentParser
import GatewayCore
import Logging
import StateStore
import Systemd
import Varlink

/// One gatewayd per state directory and per control socket, settled before anything serves: no
/// adapter has connected, no socket is bound, no store is open, and READY=1 is not sent. A second
/// instance exits 78 (`RestartPreventExitStatus=78`: systemd does not loop restarting it) with a
/// message naming the first one's PID and the path, so that a duplicate never answers from the
/// same bot.
///
/// - The state directory: `StateDirectoryLock` (a `flock` the kernel drops with its holder, so a
///   `kill -9`'d one never blocks the next start; a lock file this process may only read still
///   shows a live holder). A directory whose lock cannot be taken at all (not creatable,
///   read-only and unlocked) leaves the daemon serving without durability, as a store that
///   cannot be opened does: nothing then writes there, so two such daemons cannot collide.
/// - The control socket, unless systemd passes it: whoever answers on the path (SO_PEERCRED
///   names it). `VarlinkServer.bind` refuses a live socket again when it binds, after the
///   adapters connected (a second instance started in between); the daemon exits 78 then too.
///
/// `--check-config` runs none of this: it may check a file while the daemon runs.
enum InstanceGuard {
    /// Takes the state directory's lock and checks the control socket; throws exit 78 when
    /// another process holds either. Returns the lock, or why the store must stay closed.
    static func claim(_ config: GatewayConfig, socketOverride: String?, logger: Logger) throws(ExitCode)
        -> Result<StateDirectoryLock, StateDirectoryLockError> {
        let lock = StateDirectoryLock.acquire(directory: config.stateDirectory)
        if case .failure(let problem) = lock, problem.code == .held {
            try refuse("\(problem)", ["path": "\(problem.path)", "holder_pid": "\(problem.holder.map(String.init) ?? "")"], logger)
        }
        // A passed socket is the socket unit's own (nobody else serves it); one that cannot be
        // read is reported where the daemon adopts it.
        let activated = (try? SocketActivation.listener(named: GatewayConstants.controlSocketName)) ?? nil
        if activated == nil, let path = Daemon.controlSocketPath(config, override: socketOverride),
           let holder = VarlinkServer.listeningProcess(at: path) {
            reportSocketInUse(path: path, holder: holder, logger: logger)
            throw ExitCode(GatewayConstants.ExitStatus.configInvalid)
        }
        return lock
    }

    /// The control socket at `path` is served by `holder` (nil: it no longer answers), found
    /// before the start or when the bind was refused.
    static func reportSocketInUse(path: String, holder: ListeningProcess?, logger: Logger) {
        report(GatewayText.controlSocketInUse(path: path, holder: holder?.pid, name: holder?.name),
               ["path": "\(path)", "holder_pid": "\(holder.map { String($0.pid) } ?? "")"], logger)
    }

    private static func refuse(_ message: String, _ metadata: Logger.Metadata, _ logger: Logger) throws(ExitCode) -> Never {
        report(message, metadata, logger)
        throw ExitCode(GatewayConstants.ExitStatus.configInvalid)
    }

    private static func report(_ message: String, _ metadata: Logger.Metadata, _ logger: Logger) {
        logger.critical("\(message)", metadata: metadata.merging([
            "event": "instance_conflict", "MESSAGE_ID": "\(GatewayMessageID.instanceConflict)",
        ]) { $1 })
    }
}
