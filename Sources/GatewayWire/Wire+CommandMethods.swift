import JSON

extension Wire {
    /// Runs an exec quick command, in any state.
    package enum RunQuickCommand: WireMethod {
        package static var method: Method { .runQuickCommand }

        package struct Parameters: WireObject {
            package static var wireType: String { "(name: string, args: ?[]string)" }
            package var name: String
            package var args: [String]?
            enum Key: String { case name, args }
            package init(name: String, args: [String]? = nil) {
                self.name = name
                self.args = args
            }
            package init(reading object: WireReader) throws(WireDecodingError) {
                name = try object.required(Key.name)
                args = try object.optional(Key.args)
            }
            package func write(to object: inout WireWriter) {
                object.set(Key.name, name)
                object.set(Key.args, args)
            }
        }

        package struct Result: WireObject {
            package static var wireType: String { "RunQuickCommand's reply" }
            /// What the chat reply would carry: stdout, or stderr when stdout is empty.
            package var output: String
            package var exitStatus: Int?
            package var signal: Int?
            package var timedOut: Bool
            package var truncated: Bool
            package var durationUsec: Int

            enum Key: String {
                case output, signal, truncated
                case exitStatus = "exit_status", timedOut = "timed_out", durationUsec = "duration_usec"
            }

            package init(output: String, exitStatus: Int?, signal: Int?, timedOut: Bool, truncated: Bool, durationUsec: Int) {
                self.output = output
                self.exitStatus = exitStatus
                self.signal = signal
                self.timedOut = timedOut
                self.truncated = truncated
                self.durationUsec = durationUsec
            }

            package init(reading object: WireReader) throws(WireDecodingError) {
                output = try object.required(Key.output)
                exitStatus = try object.optional(Key.exitStatus)
                signal = try object.optional(Key.signal)
                timedOut = try object.required(Key.timedOut)
                truncated = try object.required(Key.truncated)
                durationUsec = try object.required(Key.durationUsec)
            }

            package func write(to object: inout WireWriter) {
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
    package enum SendMessage: WireMethod {
        package static var method: Method { .sendMessage }

        package struct Parameters: WireObject {
            package static var wireType: String { "(text: string, chat: ?string, user: ?string)" }
            package var text: String
            /// Default: the caller's user name.
            package var chat: String?
            /// Honoured for root only.
            package var user: String?
            enum Key: String { case text, chat, user }
            package init(text: String, chat: String? = nil, user: String? = nil) {
                self.text = text
                self.chat = chat
                self.user = user
            }
            package init(reading object: WireReader) throws(WireDecodingError) {
                text = try object.required(Key.text)
                chat = try object.optional(Key.chat)
                user = try object.optional(Key.user)
            }
            package func write(to object: inout WireWriter) {
                object.set(Key.text, text)
                object.set(Key.chat, chat)
                object.set(Key.user, user)
            }
        }

        package struct Result: WireObject {
            package static var wireType: String { "(replies: []string)" }
            package var replies: [String]
            enum Key: String { case replies }
            package init(replies: [String]) { self.replies = replies }
            package init(reading object: WireReader) throws(WireDecodingError) { replies = try object.required(Key.replies) }
            package func write(to object: inout WireWriter) { object.set(Key.replies, replies) }
        }
    }

    /// Requires `more`: the first reply carries the status, each later one an event.
    package enum Subscribe: WireMethod {
        package static var method: Method { .subscribe }
        package typealias Parameters = NoFields

        package struct Result: WireObject {
            package static var wireType: String { "(status: ?Status, event: ?Event)" }
            package var status: Status?
            package var event: Event?
            enum Key: String { case status, event }
            package init(status: Status? = nil, event: Event? = nil) {
                self.status = status
                self.event = event
            }
            package init(reading object: WireReader) throws(WireDecodingError) {
                status = try object.optional(Key.status)
                event = try object.optional(Key.event)
            }
            package func write(to object: inout WireWriter) {
                object.set(Key.status, status)
                object.set(Key.event, event)
            }
        }
    }
}
