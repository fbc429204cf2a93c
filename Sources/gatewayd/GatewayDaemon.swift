import ArgumentParser
import Dispatch
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
            Runs in the foreground as a systemd Type=notify service: READY=1 once it serves, \
            STOPPING=1 on SIGTERM or SIGINT, RELOADING=1 then READY=1 on SIGHUP. Logs go to the \
            journal with GATEWAY_* fields when systemd connected stderr to journald, and to stderr \
            as text otherwise.

            Steer a running daemon with gatewayctl; read its logs with journalctl -u gatewayd.
            """,
        version: GatewayConstants.version
    )

    @Option(name: .customLong("log-target"),
            help: "Where logs go: auto, journal or console (default: $\(GatewayConstants.Environment.logTarget) or auto).")
    var logTarget: LogTargetChoice?

    func run() async throws {
        let environment = ProcessEnvironment.current
        let choice = logTarget
            ?? environment[GatewayConstants.Environment.logTarget].flatMap(LogTargetChoice.init(rawValue:))
            ?? .auto
        LogHandlerFactory(
            target: choice.resolve(journalStream: environment["JOURNAL_STREAM"]),
            identifier: GatewayConstants.syslogIdentifier,
            fieldPrefix: GatewayConstants.journalFieldPrefix
        ).bootstrap()
        let logger = Logger(label: "gatewayd")
        let notifier = Notifier()

        let signals = SignalStream([SIGTERM, SIGINT, SIGHUP])
        try notifier.ready(status: "Running")
        logger.info("gatewayd started", metadata: ["event": "started", "version": "\(GatewayConstants.version)"])

        for await signal in signals.stream {
            if signal == SIGHUP {
                try notifier.reloading(status: "Reloading")
                logger.info("reload requested", metadata: ["event": "reload"])
                try notifier.ready(status: "Running")
                continue
            }
            try notifier.stopping(status: "Stopping")
            logger.info("stopping", metadata: ["event": "stopping", "signal": "\(signal)"])
            return
        }
    }
}

extension LogTargetChoice: ExpressibleByArgument {}

/// The process environment as a dictionary, read once.
enum ProcessEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

/// Delivers signals as an async sequence: the signals are ignored at the C level, so no handler
/// runs in signal context, and Dispatch reports them on a queue.
final class SignalStream {
    let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        let queue = DispatchQueue(label: "gatewayd.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }
}
