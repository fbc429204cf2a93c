import ArgumentParser
import GatewayWire
import JSON
import VarlinkClient
import VarlinkProtocol
#if canImport(Glibc)
import Glibc
#endif

/// gatewayctl's exit statuses (docs/DESIGN.md).
enum ExitStatus {
    static let failed: Int32 = 1
    static let notRunning: Int32 = 3
    static let permissionDenied: Int32 = 4
    static let timedOut: Int32 = 124
    static let notRun: Int32 = 125
    static let usage: Int32 = 64
}

/// A failure worth its own exit status, with a message that says what to do.
struct CtlFailure: Error {
    let status: Int32
    let message: String
    /// The varlink error behind it, when the daemon answered with one.
    var error: String?
    /// The declared error behind it, decoded (a refused reload's problems are in it).
    var failure: Wire.Failure?

    func report() { Output.error("gatewayctl: \(message)") }

    var isNoSuchQuickCommand: Bool { error == Wire.Failure.Name.noSuchQuickCommand }
}

/// A connection to the daemon that turns every failure into a `CtlFailure`.
struct Client {
    let path: String
    let connection: VarlinkConnection
    /// How long a reply may take; nil: for ever (a turn, a quick command, a stream).
    let timeout: Duration?

    /// A first reply still missing after this long makes gatewayctl ask systemd about the unit:
    /// a crash-looping gatewayd leaves calls in the socket's backlog that nobody will answer.
    static let unitCheckDelay: Duration = .seconds(2)

    init(_ options: ClientOptions, waitForever: Bool = false) throws {
        path = options.socketPath
        timeout = waitForever ? nil : .milliseconds(Int64(options.timeout * 1000))
        do {
            connection = try VarlinkConnection(path: path, timeout: timeout)
        } catch {
            throw Self.failure(error, path: path)
        }
    }

    /// Calls a method; an error reply becomes a `CtlFailure`.
    func call<Method: WireMethod>(_ method: Method.Type, _ parameters: Method.Parameters) throws -> Method.Result {
        let reply: VarlinkReply
        do {
            try connection.send(VarlinkCall(method: Method.method.qualified, parameters: parameters.parameters))
            reply = try firstReply()
        } catch let error as CtlFailure {
            throw error
        } catch {
            throw Self.failure(error, path: path)
        }
        return try Self.result(of: reply, method)
    }

    func call<Method: WireMethod>(_ method: Method.Type) throws -> Method.Result where Method.Parameters == NoFields {
        try call(method, NoFields())
    }

    /// A `more` call: `each` sees every reply.
    func stream<Method: WireMethod>(_ method: Method.Type, _ parameters: Method.Parameters,
                                    each: (Method.Result) -> Void) throws {
        do {
            var call = VarlinkCall(method: Method.method.qualified, parameters: parameters.parameters)
            call.more = true
            try connection.send(call)
            var reply = try firstReply()
            while true {
                each(try Self.result(of: reply, method))
                fflush(nil)  // every stream: a follower sees each reply at once
                guard reply.continues else { return }
                reply = try connection.receive()
            }
        } catch let error as CtlFailure {
            throw error
        } catch {
            throw Self.failure(error, path: path)
        }
    }

    /// The first reply to a call just sent. While it is late, every `unitCheckDelay` systemd is
    /// asked about the socket's unit: once that says the unit is failing, gives up at once with
    /// what to look at.
    private func firstReply() throws -> VarlinkReply {
        guard let unit = UnitState.unit(forSocket: path), timeout.map({ $0 > Self.unitCheckDelay }) ?? true else {
            return try connection.receive()
        }
        var left = timeout
        while true {
            let wait = left.map { min($0, Self.unitCheckDelay) } ?? Self.unitCheckDelay
            let outcome = receive(within: wait)
            switch outcome {
            case .success(let reply): return reply
            case .failure(let error) where error.code == .timedOut: break
            case .failure(let error):
                // Closed before answering: a gatewayd that died while starting does that.
                guard error.code == .protocolError, let state = UnitState.query(unit), state.isFailing else { throw error }
                throw CtlFailure(status: ExitStatus.notRunning, message:
                    "gatewayd closed the connection on \(path): \(state.summary); \(state.hint)")
            }
            if let state = UnitState.query(unit), state.isFailing {
                throw CtlFailure(status: ExitStatus.notRunning, message:
                    "gatewayd does not answer on \(path): \(state.summary); \(state.hint)")
            }
            left = left.map { $0 - wait }
            if let left, left <= .zero { throw VarlinkClientError(.timedOut, "no reply from \(path) in time") }
        }
    }

    private func receive(within timeout: Duration?) -> Result<VarlinkReply, VarlinkClientError> {
        connection.setTimeout(timeout)
        return Result { () throws(VarlinkClientError) in try connection.receive() }
    }

    /// The reply's result; an error reply, or one that is not what the interface says, is a
    /// `CtlFailure`.
    static func result<Method: WireMethod>(of reply: VarlinkReply, _ method: Method.Type) throws -> Method.Result {
        try check(reply, method: Method.method)
        do {
            return try Method.Result(parameters: reply.parameters)
        } catch {
            throw CtlFailure(status: ExitStatus.failed, message: "gatewayd's reply to \(Method.method.rawValue) is not what the interface says: \(error)")
        }
    }

    static func check(_ reply: VarlinkReply, method: Wire.Method) throws {
        guard let error = reply.error else { return }
        if let failure = try? Wire.Failure(name: error, parameters: reply.parameters), let message = message(for: failure) {
            throw CtlFailure(status: ExitStatus.failed, message: message, error: error, failure: failure)
        }
        let detail = reply.parameters["message"]?.string ?? reply.parameters["name"]?.string
            ?? reply.parameters["parameter"]?.string ?? reply.parameters["key"]?.string
        switch error {
        case VarlinkError.permissionDenied:
            // The daemon says why (not an admin; a process it started itself); an older one
            // says nothing, and then the usual reasons are listed.
            throw CtlFailure(status: ExitStatus.permissionDenied, message:
                "permission denied: \(method.rawValue) changes the gateway; "
                    + (reply.parameters["message"]?.string
                        ?? "run it as root, as the daemon's user, or as a member of the admin group (control.admin_group)"))
        default:
            throw CtlFailure(status: ExitStatus.failed, message: "\(error)" + (detail.map { ": \($0)" } ?? ""), error: error)
        }
    }

    /// What to tell the operator about a declared error, with what to do; nil: the error's
    /// name and message as they are.
    static func message(for failure: Wire.Failure) -> String? {
        switch failure {
        case .platformDisabled(_, let message): "\(message); enable it with platforms.local.enabled: true and reload"
        case .noSuchQuickCommand(let name): "no exec quick command named '\(name)'; see `gatewayctl quick list`"
        case .configInvalid(let message, _): "the configuration was refused, the old one stays: \(message)"
        case .noSuchSession(let key): "no session '\(key)'; see `gatewayctl sessions`"
        case .stopping(_, let message): message
        case .quickCommandFailed, .internalError: nil
        }
    }

    static func failure(_ error: any Error, path: String) -> CtlFailure {
        guard let error = error as? VarlinkClientError else {
            return CtlFailure(status: ExitStatus.failed, message: "\(error)")
        }
        let unit = UnitState.unit(forSocket: path)
        switch error.code {
        case .notRunning:
            // An instance's socket is its own socket unit's: starting that starts the service.
            let start = unit.map { "systemctl start \($0.replacingSuffix(".service", with: ".socket"))" } ?? "gatewayd --socket \(path)"
            return CtlFailure(status: ExitStatus.notRunning, message:
                "gatewayd is not running (no socket at \(path)); start it with: \(start)")
        case .permissionDenied:
            return CtlFailure(status: ExitStatus.permissionDenied, message:
                "permission denied opening \(path); join the gateway's admin group (control.admin_group) or use sudo")
        case .timedOut:
            if let unit, let state = UnitState.query(unit) {
                return CtlFailure(status: state.isFailing ? ExitStatus.notRunning : ExitStatus.failed, message:
                    "gatewayd did not answer in time on \(path): \(state.summary); try --timeout, or \(state.hint)")
            }
            return CtlFailure(status: ExitStatus.failed, message:
                "gatewayd did not answer in time on \(path); try --timeout, or see `gatewayctl logs`")
        case .protocolError, .io:
            return CtlFailure(status: ExitStatus.failed, message: "\(error.message)")
        }
    }
}

extension String {
    func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}

extension ParsableCommand {
    /// Reports `CtlFailure`s with their own exit status.
    static func mainReportingFailures(_ arguments: [String]) {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let failure as CtlFailure {
            failure.report()
            Glibc.exit(failure.status)
        } catch {
            exit(withError: error)
        }
    }
}


