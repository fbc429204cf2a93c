/// What observers (sd_notify status, the control socket's event stream, logs) learn about. The
/// core publishes these; it never calls an observer directly.
public enum GatewayEvent: Sendable, Equatable {
    case stateChanged(GatewayState)
    case countersChanged(GatewayCounters)
    /// Draining and nothing left in flight: the daemon may exit (or wait for `Resume`).
    case drained(DrainReason)
    case messageDispatched(session: String, route: Route)
    case quickCommandStarted(name: String, session: String)
    case quickCommandFinished(QuickCommandReport)
    case configReloaded
    /// A reply with no request waiting for it (a replayed message's, a restart notice), handed to
    /// the chat's platform through the outbox.
    case delayedReply(ChatAddress, text: String)

    /// Whether it only records what happened (for the journal and `Subscribe`), with no change
    /// of state or counters that a status line follows.
    public var isRecord: Bool {
        switch self {
        case .messageDispatched, .quickCommandStarted, .quickCommandFinished, .delayedReply: true
        case .stateChanged, .countersChanged, .drained, .configReloaded: false
        }
    }

    /// Where a message went.
    public enum Route: String, Sendable {
        case refused, builtin, execQuickCommand = "exec", alias, drainRefused = "drain_refused"
        case busyInterrupt = "busy_interrupt", busyQueued = "busy_queued", agentTurn = "agent_turn", unknownCommand = "unknown_command"
        /// A busy session's message during a restart drain, stored for after the restart.
        case restartQueued = "restart_queued"
        /// The durable queue could not take it (disk full, database locked); the sender was told.
        case storeFailed = "store_failed"
    }
}

public struct GatewayCounters: Sendable, Equatable {
    public var turnsInFlight = 0
    public var execRunning = 0
    public var sessions = 0
    public var queued = 0

    public init() {}
}

/// One finished exec quick command, for the journal and `Subscribe`.
public struct QuickCommandReport: Sendable, Equatable {
    public var name: String
    public var session: String
    public var exitStatus: Int32?
    public var signal: Int32?
    public var timedOut: Bool
    public var truncated: Bool
    public var duration: Duration
    /// What the chat reply carries (before the wording for empty output), or the error.
    public var output: String
}
