import JSON

/// One method of the interface: its parameters and its reply, as Swift types.
package protocol WireMethod {
    associatedtype Parameters: WireObject
    associatedtype Result: WireObject
    static var method: Wire.Method { get }
}

extension Wire {
    /// The interface's name.
    package static let interface = "io.gatewayd.Gateway"

    /// The methods by name.
    package enum Method: String, Sendable, CaseIterable {
        case getStatus = "GetStatus"
        case drain = "Drain"
        case resume = "Resume"
        case reload = "Reload"
        case restart = "Restart"
        case listSessions = "ListSessions"
        case stopTurn = "StopTurn"
        case resetSession = "ResetSession"
        case listQuickCommands = "ListQuickCommands"
        case runQuickCommand = "RunQuickCommand"
        case sendMessage = "SendMessage"
        case subscribe = "Subscribe"
        case getMetrics = "GetMetrics"

        /// Needs root, the daemon's uid or the admin group.
        package var changesState: Bool {
            switch self {
            case .getStatus, .listSessions, .listQuickCommands, .subscribe, .getMetrics: false
            default: true
            }
        }

        /// `io.gatewayd.Gateway.GetStatus`.
        package var qualified: String { "\(Wire.interface).\(rawValue)" }
    }

    /// The reply of the methods that answer with the gateway's status.
    package struct StatusResult: WireObject {
        package static var wireType: String { "(status: Status)" }
        package var status: Status
        enum Key: String { case status }
        package init(status: Status) { self.status = status }
        package init(reading object: WireReader) throws(WireDecodingError) { status = try object.required(Key.status) }
        package func write(to object: inout WireWriter) { object.set(Key.status, status) }
    }

    /// The `session` parameter of `StopTurn` and `ResetSession`.
    package struct SessionParameters: WireObject {
        package static var wireType: String { "(session: string)" }
        package var session: String
        enum Key: String { case session }
        package init(session: String) { self.session = session }
        package init(reading object: WireReader) throws(WireDecodingError) { session = try object.required(Key.session) }
        package func write(to object: inout WireWriter) { object.set(Key.session, session) }
    }

    package enum GetStatus: WireMethod {
        package static var method: Method { .getStatus }
        package typealias Parameters = NoFields
        package typealias Result = StatusResult
    }

    /// With `more`: a reply per change until nothing is in flight.
    package enum Drain: WireMethod {
        package static var method: Method { .drain }
        package typealias Result = StatusResult

        package struct Parameters: WireObject {
            package static var wireType: String { "(timeout_usec: ?int)" }
            /// Overrides `drain.timeout` for this drain.
            package var timeoutUsec: Int?
            enum Key: String { case timeoutUsec = "timeout_usec" }
            package init(timeoutUsec: Int? = nil) { self.timeoutUsec = timeoutUsec }
            package init(reading object: WireReader) throws(WireDecodingError) {
                timeoutUsec = try object.optional(Key.timeoutUsec)
                if let timeoutUsec, timeoutUsec < 0 { throw WireDecodingError(field: Key.timeoutUsec.rawValue, expected: "int ≥ 0") }
            }
            package func write(to object: inout WireWriter) { object.set(Key.timeoutUsec, timeoutUsec) }
        }
    }

    package enum Resume: WireMethod {
        package static var method: Method { .resume }
        package typealias Parameters = NoFields
        package typealias Result = StatusResult
    }

    package enum Restart: WireMethod {
        package static var method: Method { .restart }
        package typealias Parameters = NoFields
        package typealias Result = StatusResult
    }

    package enum ListSessions: WireMethod {
        package static var method: Method { .listSessions }
        package typealias Parameters = NoFields

        package struct Result: WireObject {
            package static var wireType: String { "(sessions: []Session)" }
            package var sessions: [Session]
            enum Key: String { case sessions }
            package init(sessions: [Session]) { self.sessions = sessions }
            package init(reading object: WireReader) throws(WireDecodingError) { sessions = try object.required(Key.sessions) }
            package func write(to object: inout WireWriter) { object.set(Key.sessions, sessions) }
        }
    }

    package enum StopTurn: WireMethod {
        package static var method: Method { .stopTurn }
        package typealias Parameters = SessionParameters

        package struct Result: WireObject {
            package static var wireType: String { "(stopped: bool)" }
            package var stopped: Bool
            enum Key: String { case stopped }
            package init(stopped: Bool) { self.stopped = stopped }
            package init(reading object: WireReader) throws(WireDecodingError) { stopped = try object.required(Key.stopped) }
            package func write(to object: inout WireWriter) { object.set(Key.stopped, stopped) }
        }
    }

    package enum ResetSession: WireMethod {
        package static var method: Method { .resetSession }
        package typealias Parameters = SessionParameters

        package struct Result: WireObject {
            package static var wireType: String { "(reset: bool)" }
            package var reset: Bool
            enum Key: String { case reset }
            package init(reset: Bool) { self.reset = reset }
            package init(reading object: WireReader) throws(WireDecodingError) { reset = try object.required(Key.reset) }
            package func write(to object: inout WireWriter) { object.set(Key.reset, reset) }
        }
    }

    package enum ListQuickCommands: WireMethod {
        package static var method: Method { .listQuickCommands }
        package typealias Parameters = NoFields

        package struct Result: WireObject {
            package static var wireType: String { "(commands: []QuickCommand)" }
            package var commands: [QuickCommand]
            enum Key: String { case commands }
            package init(commands: [QuickCommand]) { self.commands = commands }
            package init(reading object: WireReader) throws(WireDecodingError) { commands = try object.required(Key.commands) }
            package func write(to object: inout WireWriter) { object.set(Key.commands, commands) }
        }
    }
}
