import JSON

extension Wire {
    /// Something that happened, as `Subscribe` streams it: `kind` says which, and which of the
    /// optional fields are set (the constructors below are the daemon's side of that promise).
    package struct Event: WireObject {
        package static var wireType: String { "Event" }
        package var kind: String
        package var state: String?
        package var reason: String?
        package var session: String?
        package var route: String?
        package var name: String?
        package var exitStatus: Int?
        package var signal: Int?
        package var timedOut: Bool?
        package var durationUsec: Int?
        package var turnsInFlight: Int?
        package var execRunning: Int?
        /// A delayed reply's chat (`kind: reply`).
        package var platform: String?
        package var chat: String?
        package var text: String?

        /// The values of `kind`.
        package enum Kind {
            package static let state = "state"
            package static let counters = "counters"
            package static let drained = "drained"
            package static let message = "message"
            package static let quickCommandStarted = "quick_command_started"
            package static let quickCommandFinished = "quick_command_finished"
            package static let reloaded = "reloaded"
            package static let reply = "reply"
        }

        enum Key: String {
            case kind, state, reason, session, route, name, signal, platform, chat, text
            case exitStatus = "exit_status", timedOut = "timed_out", durationUsec = "duration_usec"
            case turnsInFlight = "turns_in_flight", execRunning = "exec_running"
        }

        package init(kind: String) { self.kind = kind }

        package static func state(_ state: String, reason: String?) -> Event {
            var event = Event(kind: Kind.state)
            event.state = state
            event.reason = reason
            return event
        }

        package static func counters(turnsInFlight: Int, execRunning: Int) -> Event {
            var event = Event(kind: Kind.counters)
            event.turnsInFlight = turnsInFlight
            event.execRunning = execRunning
            return event
        }

        package static func drained(reason: String) -> Event {
            var event = Event(kind: Kind.drained)
            event.reason = reason
            return event
        }

        package static func message(session: String, route: String) -> Event {
            var event = Event(kind: Kind.message)
            event.session = session
            event.route = route
            return event
        }

        package static func quickCommandStarted(name: String, session: String) -> Event {
            var event = Event(kind: Kind.quickCommandStarted)
            event.name = name
            event.session = session
            return event
        }

        package static func quickCommandFinished(name: String, session: String, exitStatus: Int?, signal: Int?,
                                                timedOut: Bool, durationUsec: Int) -> Event {
            var event = Event(kind: Kind.quickCommandFinished)
            event.name = name
            event.session = session
            event.exitStatus = exitStatus
            event.signal = signal
            event.timedOut = timedOut
            event.durationUsec = durationUsec
            return event
        }

        package static var reloaded: Event { Event(kind: Kind.reloaded) }

        package static func reply(platform: String, chat: String, text: String) -> Event {
            var event = Event(kind: Kind.reply)
            event.platform = platform
            event.chat = chat
            event.text = text
            return event
        }

        package init(reading object: WireReader) throws(WireDecodingError) {
            kind = try object.required(Key.kind)
            state = try object.optional(Key.state)
            reason = try object.optional(Key.reason)
            session = try object.optional(Key.session)
            route = try object.optional(Key.route)
            name = try object.optional(Key.name)
            exitStatus = try object.optional(Key.exitStatus)
            signal = try object.optional(Key.signal)
            timedOut = try object.optional(Key.timedOut)
            durationUsec = try object.optional(Key.durationUsec)
            turnsInFlight = try object.optional(Key.turnsInFlight)
            execRunning = try object.optional(Key.execRunning)
            platform = try object.optional(Key.platform)
            chat = try object.optional(Key.chat)
            text = try object.optional(Key.text)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.kind, kind)
            object.set(Key.state, state)
            object.set(Key.reason, reason)
            object.set(Key.session, session)
            object.set(Key.route, route)
            object.set(Key.name, name)
            object.set(Key.exitStatus, exitStatus)
            object.set(Key.signal, signal)
            object.set(Key.timedOut, timedOut)
            object.set(Key.durationUsec, durationUsec)
            object.set(Key.turnsInFlight, turnsInFlight)
            object.set(Key.execRunning, execRunning)
            object.set(Key.platform, platform)
            object.set(Key.chat, chat)
            object.set(Key.text, text)
        }
    }
}
