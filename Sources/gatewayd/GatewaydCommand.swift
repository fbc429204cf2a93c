import ArgumentParser
import GatewayCore
import Logging
import NIOPosix
import Systemd
#if canImport(Glibc)
import Glibc
#endif

/// gatewayd's command line: parses the options, checks the configuration (`--check-config`),
/// then builds the `Daemon` (the running gateway) and runs it. Named apart from `Daemon` because
/// it is only the way in: it holds no state once the daemon runs.
struct GatewaydCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayd",
        abstract: "Chat gateway daemon: routes chat messages to commands, quick commands and an AI agent.",
        discussion: """
            Runs in the foreground as a systemd Type=notify service: READY=1 once the control socket \
            listens, STOPPING=1 and a drain on SIGTERM or SIGINT (exit 0), the same drain on SIGUSR1 \
            but exit 75 (restart), RELOADING=1 then READY=1 on SIGHUP. A second SIGTERM during a \
            drain interrupts the remaining turns at once. Logs go to the journal with GATEWAY_* \
            fields when systemd connected stderr to journald, and to stderr as text otherwise.

            Steer a running daemon with gatewayctl; read its logs with journalctl -u gatewayd.
            Exit status 78: the configuration is invalid, or another gatewayd holds the state directory \
            (state_dir/gatewayd.lock) or serves the control socket (the message names its PID).
            """,
        version: GatewayConstants.version
    )

    @Option(name: .long, help: ArgumentHelp(
        "The configuration file (default: \(GatewayConstants.defaultConfigPath); only the default may be missing, then built-in defaults run).",
        valueName: "path"))
    var config: String?

    /// The file to read; `config` is nil when `--config` was not given.
    var configPath: String { config ?? GatewayConstants.defaultConfigPath }

    @Option(name: .long, help: ArgumentHelp(
        "The control socket to bind (default: control.socket, which is /run/gatewayd/control for root and $XDG_RUNTIME_DIR/gatewayd/control for anyone else; a socket passed by systemd wins).",
        valueName: "path"))
    var socket: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where the durable queue (state.db) lives (default: state_dir, else systemd's StateDirectory=, else $XDG_STATE_HOME/gatewayd or ~/.local/state/gatewayd).",
        valueName: "path"))
    var stateDirectory: String?

    @Flag(name: .customLong("check-config"), help: "Validate the configuration, print every problem, and exit (0 valid, 78 invalid).")
    var checkConfig = false

    @Option(name: .customLong("log-target"),
            help: "Where logs go: auto, journal or console (default: $\(GatewayConstants.Environment.logTarget) or auto).")
    var logTarget: LogTargetChoice?

    func run() async throws {
        if checkConfig { return try Self.check(path: configPath, explicit: config != nil) }
        let choice = logTarget
            ?? ProcessEnvironment.value(GatewayConstants.Environment.logTarget).flatMap(LogTargetChoice.init(rawValue:))
            ?? .auto
        LogHandlerFactory(
            target: choice.resolve(journalStream: ProcessEnvironment.value("JOURNAL_STREAM")),
            identifier: GatewayConstants.syslogIdentifier,
            fieldPrefix: GatewayConstants.journalFieldPrefix,
            deferred: true
        ).bootstrap()
        // Whatever way this ends, the queued records go out before the process does.
        defer { LogWriter.shared.flush() }
        let logger = Logger(label: "gatewayd")
        // The one event-loop group: the control socket, the webhook and IRC share its thread
        // (their work on it is framing and TLS; dispatching runs on the cooperative pool, so one
        // loop is plenty, and each more cost idle RSS). Never shut down: it ends with the
        // process. The process reaper and the log writer keep threads of their own.
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let checked: StartupCheck
        do {
            checked = try StartupCheck(path: configPath, explicit: config != nil, build: eventLoops)
        } catch {
            for problem in error.problems where problem.severity == .error {
                logger.critical("\(configPath): \(problem)", metadata: [
                    "event": "config_invalid", "MESSAGE_ID": "\(GatewayMessageID.configInvalid)",
                ])
            }
            throw ExitCode(GatewayConstants.ExitStatus.configInvalid)
        }
        for warning in checked.warnings {
            logger.warning("\(configPath): \(warning)", metadata: ["event": "config_warning"])
        }
        var settings = checked.outcome.config
        if let stateDirectory { settings.stateDirectory = stateDirectory }
        // Before the store opens and anything serves: a second instance stops here (exit 78).
        let stateLock = try InstanceGuard.claim(settings, socketOverride: socket, logger: logger)
        let daemon = Daemon(configPath: configPath, configExplicit: config != nil, config: settings, revision: checked.outcome.revision,
                            adapters: checked.adapters, socketOverride: socket, stateDirectoryOverride: stateDirectory, stateLock: stateLock,
                            eventLoops: eventLoops, logger: logger)
        let status = await daemon.run()
        throw ExitCode(status)
    }

    /// `--check-config`: every problem on stdout, exit 0 or 78: the start's own check
    /// (`StartupCheck`), without starting anything.
    static func check(path: String, explicit: Bool) throws {
        do {
            let checked = try StartupCheck(path: path, explicit: explicit)
            for problem in checked.warnings { print("\(path): warning: \(problem)") }
            print("\(path): OK" + (checked.outcome.revision.map { " (revision \($0))" } ?? " (no file: built-in defaults)"))
        } catch {
            for problem in error.problems { print("\(path): \(problem.severity.rawValue): \(problem)") }
            throw ExitCode(GatewayConstants.ExitStatus.configInvalid)
        }
    }
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

extension LogTargetChoice: ExpressibleByArgument {}
