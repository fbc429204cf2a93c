import JSON

/// One method of the interface: its parameters and its reply, as Swift types.
public protocol WireMethod {
    associatedtype Parameters: WireObject
    associatedtype Result: WireObject
    static var method: Wire.Method { get }
}

extension Wire {
    /// The interface's name.
    public static let interface = "io.gatewayd.Gateway"

    /// The methods by name.
    public enum Method: String, Sendable, CaseIterable {
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

        /// Needs root, the daemon's uid or the admin group.
        public var changesState: Bool {
            switch self {
            case .getStatus, .listSessions, .listQuickCommands, .subscribe: false
            default: true
            }
        }

        /// `io.gatewayd.Gateway.GetStatus`.
        public var qualified: String { "\(Wire.interface).\(rawValue)" }
    }

    /// The reply of the methods that answer with the gateway's status.
    public struct StatusResult: WireObject {
        public static var wireType: String { "(status: Status)" }
        public var status: Status
        enum Key: String { case status }
        public init(status: Status) { self.status = status }
        public init(reading object: WireReader) throws(WireDecodingError) { status = try object.required(Key.status) }
        public func write(to object: inout WireWriter) { object.set(Key.status, status) }
    }

    /// The `session` parameter of `StopTurn` and `ResetSession`.
    public struct SessionParameters: WireObject {
        public static var wireType: String { "(session: string)" }
        public var session: String
        enum Key: String { case session }
        public init(session: String) { self.session = session }
        public init(reading object: WireReader) throws(WireDecodingError) { session = try object.required(Key.session) }
        public func write(to object: inout WireWriter) { object.set(Key.session, session) }
    }

    public enum GetStatus: WireMethod {
        public static var method: Method { .getStatus }
        public typealias Parameters = NoFields
        public typealias Result = StatusResult
    }

    /// With `more`: a reply per change until nothing is in flight.
    public enum Drain: WireMethod {
        public static var method: Method { .drain }
        public typealias Result = StatusResult

        public struct Parameters: WireObject {
            public static var wireType: String { "(timeout_usec: ?int)" }
            /// Overrides `drain.timeout` for this drain.
            public var timeoutUsec: Int?
            enum Key: String { case timeoutUsec = "timeout_usec" }
            public init(timeoutUsec: Int? = nil) { self.timeoutUsec = timeoutUsec }
            public init(reading object: WireReader) throws(WireDecodingError) {
                timeoutUsec = try object.optional(Key.timeoutUsec)
                if let timeoutUsec, timeoutUsec < 0 { throw WireDecodingError(field: Key.timeoutUsec.rawValue, expected: "int ≥ 0") }
            }
            public func write(to object: inout WireWriter) { object.set(Key.timeoutUsec, timeoutUsec) }
        }
    }

    public enum Resume: WireMethod {
        public static var method: Method { .resume }
        public typealias Parameters = NoFields
        public typealias Result = StatusResult
    }

    public enum Reload: WireMethod {
        public static var method: Method { .reload }
        public typealias Parameters = NoFields
        public typealias Result = StatusResult
    }

    public enum Restart: WireMethod {
        public static var method: Method { .restart }
        public typealias Parameters = NoFields
        public typealias Result = StatusResult
    }

    public enum ListSessions: WireMethod {
        public static var method: Method { .listSessions }
        public typealias Parameters = NoFields

        public struct Result: WireObject {
            public static var wireType: String { "(sessions: []Session)" }
            public var sessions: [Session]
            enum Key: String { case sessions }
            public init(sessions: [Session]) { self.sessions = sessions }
            public init(reading object: WireReader) throws(WireDecodingError) { sessions = try object.required(Key.sessions) }
            public func write(to object: inout WireWriter) { object.set(Key.sessions, sessions) }
        }
    }

    public enum StopTurn: WireMethod {
        public static var method: Method { .stopTurn }
        public typealias Parameters = SessionParameters

        public struct Result: WireObject {
            public static var wireType: String { "(stopped: bool)" }
            public var stopped: Bool
            enum Key: String { case stopped }
            public init(stopped: Bool) { self.stopped = stopped }
            public init(reading object: WireReader) throws(WireDecodingError) { stopped = try object.required(Key.stopped) }
            public func write(to object: inout WireWriter) { object.set(Key.stopped, stopped) }
        }
    }

    public enum ResetSession: WireMethod {
        public static var method: Method { .resetSession }
        public typealias Parameters = SessionParameters

        public struct Result: WireObject {
            public static var wireType: String { "(reset: bool)" }
            public var reset: Bool
            enum Key: String { case reset }
            public init(reset: Bool) { self.reset = reset }
            public init(reading object: WireReader) throws(WireDecodingError) { reset = try object.required(Key.reset) }
            public func write(to object: inout WireWriter) { object.set(Key.reset, reset) }
        }
    }

    public enum ListQuickCommands: WireMethod {
        public static var method: Method { .listQuickCommands }
        public typealias Parameters = NoFields

        public struct Result: WireObject {
            public static var wireType: String { "(commands: []QuickCommand)" }
            public var commands: [QuickCommand]
            enum Key: String { case commands }
            public init(commands: [QuickCommand]) { self.commands = commands }
            public init(reading object: WireReader) throws(WireDecodingError) { commands = try object.required(Key.commands) }
            public func write(to object: inout WireWriter) { object.set(Key.commands, commands) }
        }
    }
}
