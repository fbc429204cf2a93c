import ArgumentParser
import GatewayWire
import JSON

struct GatewayCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayctl",
        abstract: "Control a running gatewayd over its control socket.",
        discussion: """
            Talks varlink to gatewayd on \(ControlSocket.systemPath) (or --socket PATH, \
            or $\(GatewayEnvironment.socket)). Reading commands need access to the \
            socket; changing ones need root, the daemon's user or its admin group.

            Every command takes these options, before or after its name:
              --socket PATH    the control socket (default: $\(GatewayEnvironment.socket), else \(ControlSocket.systemPath),
                               else $XDG_RUNTIME_DIR/gatewayd/control: a gatewayd you started by hand)
              --json           JSON output with stable field names, for scripts
              --timeout S      seconds to wait for an answer (default 30)

            Exit codes: 0 done, 1 failed, 3 daemon not running, 4 permission denied, 64 usage. \
            `quick run` exits as timeout(1) does: the command's status, 124 timed out, 125 not run. \
            `reload` exits 2 when some changes wait for a restart; `health` exits 0 ready, 1 alive but \
            not ready, 3 not running or not answering. \
            `audit` reads the journal: 0 shown (none found included), 1 journalctl failed.
            """,
        version: GatewayProduct.version,
        subcommands: [
            Status.self, Health.self, Drain.self, Resume.self, Reload.self, Restart.self, Sessions.self, Quick.self,
            Send.self, Events.self, Logs.self, Audit.self, Metrics.self,
        ]
    )

    /// Bare `gatewayctl`: a usage error (64), not success, with the help that says what to type.
    func run() throws {
        print(Self.helpMessage(), to: &StandardError.stream)
        throw ExitCode(ExitStatus.usage)
    }
}

/// `print(..., to: &StandardError.stream)`.
struct StandardError: TextOutputStream {
    nonisolated(unsafe) static var stream = StandardError()
    func write(_ string: String) { Output.error(string, newline: false) }
}

/// Options every command takes.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The control socket (default: $\(GatewayEnvironment.socket), else \(ControlSocket.systemPath), else your own $XDG_RUNTIME_DIR/gatewayd/control).",
        valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print JSON (stable field names) instead of text.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for an answer.", valueName: "seconds"))
    var timeout: Double = 30

    var socketPath: String { socket ?? ControlSocket.clientPath() }

    /// A usage error (64) rather than a trap converting it, or a wait that never ends.
    func validate() throws {
        try Self.checkSeconds(timeout, option: "--timeout")
    }

    /// What a wait in seconds may be: finite, positive, 30 days at most.
    static let seconds: ClosedRange<Double> = 0.001...2_592_000

    static func checkSeconds(_ value: Double, option: String) throws {
        guard seconds.contains(value) else {
            throw ValidationError("\(option): expected seconds between 0.001 and \(Int(seconds.upperBound)) (30 days), got \(value)")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the gateway's state, turns, quick commands and sessions.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        let status = try Client(options).call(Wire.GetStatus.self).status
        if options.json { return Output.json(status) }
        print(Output.statusText(status))
    }
}

struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop taking new agent work (exec quick commands still run) and wait until nothing is in flight.")
    @OptionGroup var options: ClientOptions
    @Option(name: .customLong("drain-timeout"), help: ArgumentHelp(
        "Interrupt turns still running after this many seconds (default: drain.timeout).", valueName: "seconds"))
    var drainTimeout: Double?
    @Flag(name: .long, help: "Return once the drain has started.")
    var noWait = false

    func validate() throws {
        if let drainTimeout { try ClientOptions.checkSeconds(drainTimeout, option: "--drain-timeout") }
    }

    func run() throws {
        let parameters = Wire.Drain.Parameters(timeoutUsec: drainTimeout.map { Int($0 * 1_000_000) })
        let client = try Client(options, waitForever: !noWait)
        if noWait { return Output.stateReply(try client.call(Wire.Drain.self, parameters), options) }
        try client.stream(Wire.Drain.self, parameters) { Output.stateReply($0, options) }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Leave a drain started with `gatewayctl drain`.")
    @OptionGroup var options: ClientOptions
    func run() throws { try Output.stateReply(Client(options).call(Wire.Resume.self), options) }
}


struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drain, then exit so that systemd starts gatewayd again (exit status 75).")
    @OptionGroup var options: ClientOptions
    func run() throws { try Output.stateReply(Client(options).call(Wire.Restart.self), options) }
}

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List sessions, or stop or reset one: sessions [stop|reset KEY].")
    @OptionGroup var options: ClientOptions
    @Argument(help: "stop or reset, then the session key.") var action: [String] = []

    func run() throws {
        let client = try Client(options)
        switch action.first {
        case nil:
            let sessions = try client.call(Wire.ListSessions.self).sessions
            if options.json { return Output.json(sessions) }
            print(Output.sessionsTable(sessions))
        case "stop", "reset":
            guard action.count == 2 else { throw ValidationError("usage: gatewayctl sessions \(action[0]) KEY") }
            let session = Wire.SessionParameters(session: action[1])
            if action[0] == "stop" {
                let reply = try client.call(Wire.StopTurn.self, session)
                if options.json { return Output.json(reply) }
                print(reply.stopped ? "Stopped the turn of \(action[1])." : "No turn running in \(action[1]).")
            } else {
                let reply = try client.call(Wire.ResetSession.self, session)
                if options.json { return Output.json(reply) }
                print("Reset \(action[1]).")
            }
        default:
            throw ValidationError("unknown action '\(action[0])': use stop KEY or reset KEY")
        }
    }
}

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send TEXT as a message from the local platform and print the replies.")
    @OptionGroup var options: ClientOptions
    @Option(help: "The chat to send in (default: your user name).") var chat: String?
    @Argument(help: "The message; quote it, or give several words.") var text: [String]

    func run() throws {
        let parameters = Wire.SendMessage.Parameters(text: text.joined(separator: " "), chat: chat)
        // Each reply printed as it comes (an agent's answer line by line); --json prints them
        // all at the end, as one list.
        var all: [String] = []
        try Client(options, waitForever: true).stream(Wire.SendMessage.self, parameters) { result in
            if options.json { all += result.replies } else { for reply in result.replies { print(reply) } }
        }
        if options.json { Output.json(all) }
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow state changes, messages and quick commands until interrupted.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        try Client(options, waitForever: true).stream(Wire.Subscribe.self, NoFields()) { reply in
            if options.json { return Output.json(reply) }
            if let status = reply.status { print(Output.progress(status)) }
            if let event = reply.event { print(Output.eventLine(event)) }
        }
    }
}

@main
enum Main {
    static func main() { GatewayCtl.mainReportingFailures(GlobalOptions.reorder(Array(CommandLine.arguments.dropFirst()))) }
}

/// `--socket`, `--json` and `--timeout` may come before the command (`gatewayctl --json status`)
/// as well as after it: leading ones are moved behind the command's name.
enum GlobalOptions {
    static let withValue: Set<String> = ["--socket", "--timeout"]
    static let flags: Set<String> = ["--json"]

    static func reorder(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.prefix { $0 != "=" })
            if flags.contains(argument) || (withValue.contains(name) && argument.contains("=")) {
                leading.append(argument)
                index += 1
            } else if withValue.contains(argument), index + 1 < arguments.count {
                leading += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        var rest = Array(arguments[index...])
        guard !leading.isEmpty, !rest.isEmpty else { return leading + rest }
        // The command's name, and the nested one of `quick list|run`.
        var path = 1
        if rest[0] == "quick", rest.count > 1, ["list", "run"].contains(rest[1]) { path = 2 }
        rest.insert(contentsOf: leading, at: path)
        return rest
    }
}
