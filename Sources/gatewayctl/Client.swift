import ArgumentParser
import GatewayControl
import GatewayCore
import Varlink
#if canImport(Glibc)
import Glibc
#endif

/// gatewayctl's exit statuses (DESIGN.md).
enum ExitStatus {
    static let failed: Int32 = 1
    static let notRunning: Int32 = 3
    static let permissionDenied: Int32 = 4
    static let timedOut: Int32 = 124
    static let notRun: Int32 = 125
}

/// A failure worth its own exit status, with a message that says what to do.
struct CtlFailure: Error {
    let status: Int32
    let message: String

    func report() { Output.error("gatewayctl: \(message)") }
}

/// A connection to the daemon that turns every failure into a `CtlFailure`.
struct Client {
    let path: String
    let connection: VarlinkConnection

    init(_ options: ClientOptions, waitForever: Bool = false) throws {
        path = options.socketPath
        do {
            connection = try VarlinkConnection(path: path, timeout: waitForever ? nil : .milliseconds(Int64(options.timeout * 1000)))
        } catch {
            throw Self.failure(error, path: path)
        }
    }

    /// Calls a method; an error reply becomes a `CtlFailure`.
    func call(_ method: GatewayWire.Method, _ parameters: [String: JSONValue] = [:]) throws -> [String: JSONValue] {
        let reply: VarlinkReply
        do {
            reply = try connection.call(VarlinkCall(method: method.qualified, parameters: parameters))
        } catch {
            throw Self.failure(error, path: path)
        }
        try Self.check(reply, method: method)
        return reply.parameters
    }

    /// A `more` call: `each` sees every reply's parameters.
    func stream(_ method: GatewayWire.Method, _ parameters: [String: JSONValue],
                each: ([String: JSONValue]) -> Void) throws {
        var failure: CtlFailure?
        do {
            try connection.stream(VarlinkCall(method: method.qualified, parameters: parameters)) { reply in
                do {
                    try Self.check(reply, method: method)
                } catch let error as CtlFailure {
                    failure = error
                    return false
                } catch {
                    return false
                }
                each(reply.parameters)
                fflush(nil)  // every stream: a follower sees each reply at once
                return true
            }
        } catch {
            throw Self.failure(error, path: path)
        }
        if let failure { throw failure }
    }

    static func check(_ reply: VarlinkReply, method: GatewayWire.Method) throws {
        guard let error = reply.error else { return }
        let detail = reply.parameters["message"]?.string ?? reply.parameters["name"]?.string
            ?? reply.parameters["parameter"]?.string ?? reply.parameters["key"]?.string
        switch error {
        case VarlinkError.permissionDenied:
            throw CtlFailure(status: ExitStatus.permissionDenied, message:
                "permission denied: \(method.rawValue) changes the gateway; run it as root, as the daemon's user, or as a member of the admin group (control.admin_group)")
        case GatewayWire.Error.noSuchQuickCommand:
            throw CtlFailure(status: ExitStatus.failed, message:
                "no exec quick command named '\(detail ?? "")'; see `gatewayctl quick list`")
        case GatewayWire.Error.configInvalid:
            throw CtlFailure(status: ExitStatus.failed, message: "the configuration was refused, the old one stays: \(detail ?? "")")
        case GatewayWire.Error.noSuchSession:
            throw CtlFailure(status: ExitStatus.failed, message: "no session '\(detail ?? "")'; see `gatewayctl sessions`")
        default:
            throw CtlFailure(status: ExitStatus.failed, message: "\(error)" + (detail.map { ": \($0)" } ?? ""))
        }
    }

    static func failure(_ error: any Error, path: String) -> CtlFailure {
        guard let error = error as? VarlinkClientError else {
            return CtlFailure(status: ExitStatus.failed, message: "\(error)")
        }
        switch error.code {
        case .notRunning:
            return CtlFailure(status: ExitStatus.notRunning, message:
                "gatewayd is not running (no socket at \(path)); start it with: systemctl start gatewayd")
        case .permissionDenied:
            return CtlFailure(status: ExitStatus.permissionDenied, message:
                "permission denied opening \(path); join the gateway's admin group (control.admin_group) or use sudo")
        case .timedOut:
            return CtlFailure(status: ExitStatus.failed, message:
                "gatewayd did not answer in time on \(path); try --timeout, or see `gatewayctl logs`")
        case .protocolError, .io:
            return CtlFailure(status: ExitStatus.failed, message: "\(error.message)")
        }
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


