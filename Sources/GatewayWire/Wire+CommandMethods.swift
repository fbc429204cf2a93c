import JSON

extension Wire {
    /// Runs an exec quick command, in any state.
    public enum RunQuickCommand: WireMethod {
        public static var method: Method { .runQuickCommand }

        public struct Parameters: WireObject {
            public static var wireType: String { "(name: string, args: ?[]string)" }
            public var name: String
            public var args: [String]?
            enum Key: String { case name, args }
            public init(name: String, args: [String]? = nil) {
                self.name = name
                self.args = args
            }
            public init(reading object: WireReader) throws(WireDecodingError) {
                name = try object.required(Key.name)
                args = try object.optional(Key.args)
            }
            public func write(to object: inout WireWriter) {
                object.set(Key.name, name)
                object.set(Key.args, args)
            }
        }

        public struct Result: WireObject {
            public static var wireType: String { "RunQuickCommand's reply" }
            /// What the chat reply would carry: stdout, or stderr when stdout is empty.
            public var output: String
            public var exitStatus: Int?
            public var signal: Int?
            public var timedOut: Bool
            public var truncated: Bool
            public var durationUsec: Int

            enum Key: String {
                case output, signal, truncated
                case exitStatus = "exit_status", timedOut = "timed_out", durationUsec = "duration_usec"
            }

            public init(output: String, exitStatus: Int?, signal: Int?, timedOut: Bool, truncated: Bool, durationUsec: Int) {
                self.output = output
                self.exitStatus = exitStatus
                self.signal = signal
                self.timedOut = timedOut
                self.truncated = truncated
                self.durationUsec = durationUsec
            }

            public init(reading object: WireReader) throws(WireDecodingError) {
                output = try object.required(Key.output)
                exitStatus = try object.optional(Key.exitStatus)
                signal = try object.optional(Key.signal)
                timedOut = try object.required(Key.timedOut)
                truncated = try object.required(Key.truncated)
                durationUsec = try object.required(Key.durationUsec)
            }

            public func write(to object: inout WireWriter) {
                object.set(Key.output, output)
                object.set(Key.exitStatus, exitStatus)
                object.set(Key.signal, signal)
                object.set(Key.timedOut, timedOut)
                object.set(Key.truncated, truncated)
                object.set(Key.durationUsec, durationUsec)
            }
        }
    }

    /// A message from the local platform; the reply holds the replies it produced.
    public enum SendMessage: WireMethod {
        public static var method: Method { .sendMessage }

        public struct Parameters: WireObject {
            public static var wireType: String { "(text: string, chat: ?string, user: ?string)" }
            public var text: String
            /// Default: the caller's user name.
            public var chat: String?
            /// Honoured for root only.
            public var user: String?
            enum Key: String { case text, chat, user }
            public init(text: String, chat: String? = nil, user: String? = nil) {
                self.text = text
                self.chat = chat
                self.user = user
            }
            public init(reading object: WireReader) throws(WireDecodingError) {
                text = try object.required(Key.text)
                chat = try object.optional(Key.chat)
                user = try object.optional(Key.user)
            }
            public func write(to object: inout WireWriter) {
                object.set(Key.text, text)
                object.set(Key.chat, chat)
                object.set(Key.user, user)
            }
        }

        public struct Result: WireObject {
            public static var wireType: String { "(replies: []string)" }
            public var replies: [String]
            enum Key: String { case replies }
            public init(replies: [String]) { self.replies = replies }
            public init(reading object: WireReader) throws(WireDecodingError) { replies = try object.required(Key.replies) }
            public func write(to object: inout WireWriter) { object.set(Key.replies, replies) }
        }
    }

    /// Requires `more`: the first reply carries the status, each later one an event.
    public enum Subscribe: WireMethod {
        public static var method: Method { .subscribe }
        public typealias Parameters = NoFields

        public struct Result: WireObject {
            public static var wireType: String { "(status: ?Status, event: ?Event)" }
            public var status: Status?
            public var event: Event?
            enum Key: String { case status, event }
            public init(status: Status? = nil, event: Event? = nil) {
                self.status = status
                self.event = event
            }
            public init(reading object: WireReader) throws(WireDecodingError) {
                status = try object.optional(Key.status)
                event = try object.optional(Key.event)
            }
            public func write(to object: inout WireWriter) {
                object.set(Key.status, status)
                object.set(Key.event, event)
            }
        }
    }
}
