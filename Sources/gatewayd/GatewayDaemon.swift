import ArgumentParser
import GatewayCore
import Logging
import Systemd
#if canImport(Glibc)
import Glibc
#endif

@main
struct GatewayDaemon: AsyncParsableCommand {
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
            Exit status 78: the configuration is invalid.
            """,
        version: GatewayConstants.version
    )

    @Option(name: .long, help: ArgumentHelp("The configuration file; with none there, built-in defaults.", valueName: "path"))
    var config = GatewayConstants.defaultConfigPath

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
        if checkConfig { return try Self.check(path: config) }
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
        let loaded: ConfigLoader.Outcome
        do {
            loaded = try ConfigLoader.load(path: config)
        } catch let error as ConfigError {
            for problem in error.problems {
                logger.critical("\(config): \(problem)", metadata: [
                    "event": "config_invalid", "MESSAGE_ID": "\(GatewayMessageID.configInvalid)",
                ])
            }
            throw ExitCode(GatewayConstants.ExitStatus.configInvalid)
        }
        for warning in loaded.warnings {
            logger.warning("\(config): \(warning)", metadata: ["event": "config_warning"])
        }
        var settings = loaded.config
        if let stateDirectory { settings.stateDirectory = stateDirectory }
        let daemon = Daemon(configPath: config, config: settings, socketOverride: socket, stateDirectoryOverride: stateDirectory, logger: logger)
        let status = await daemon.run()
        throw ExitCode(status)
    }

    /// `--check-config`: every problem on stdout, exit 0 or 78.
    static func check(path: String) throws {
        do {
            let outcome = try ConfigLoader.load(path: path)
            for problem in outcome.problems { print("\(path): warning: \(problem)") }
            // What the adapters read themselves (listen addresses, secret files).
            do {
                _ = try Daemon.makeAdapters(outcome.config)
            } catch {
                print("\(path): error: \(error)")
                throw ExitCode(GatewayConstants.ExitStatus.configInvalid)
            }
            print("\(path): OK" + (fileExists(path) ? "" : " (no file: built-in defaults)"))
        } catch let error as ConfigError {
            for problem in error.problems { print("\(path): \(problem.severity.rawValue): \(problem)") }
            throw ExitCode(GatewayConstants.ExitStatus.configInvalid)
        }
    }
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

extension LogTargetChoice: ExpressibleByArgument {}
