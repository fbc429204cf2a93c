/// What observers (sd_notify status, the control socket's event stream, logs) learn about. The
/// core publishes these; it never calls an observer directly.
package enum GatewayEvent: Sendable, Equatable {
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
    package var isRecord: Bool {
        switch self {
        case .messageDispatched, .quickCommandStarted, .quickCommandFinished, .delayedReply: true
        case .stateChanged, .countersChanged, .drained, .configReloaded: false
        }
    }

    /// Where a message went.
    package enum Route: String, Sendable {
        case refused, builtin, execQuickCommand = "exec", alias, drainRefused = "drain_refused"
        case busyInterrupt = "busy_interrupt", busyQueued = "busy_queued", agentTurn = "agent_turn", unknownCommand = "unknown_command"
        /// A busy session's message during a restart drain, stored for after the restart.
        case restartQueued = "restart_queued"
        /// The durable queue could not take it (disk full, database locked); the sender was told.
        case storeFailed = "store_failed"
    }
}

package struct GatewayCounters: Sendable, Equatable {
    package var turnsInFlight = 0
    package var execRunning = 0
    package var sessions = 0
    package var queued = 0

    package init() {}
}

/// One finished exec quick command, for the journal and `Subscribe`.
package struct QuickCommandReport: Sendable, Equatable {
    package var name: String
    package var session: String
    package var exitStatus: Int32?
    package var signal: Int32?
    package var timedOut: Bool
    package var truncated: Bool
    package var duration: Duration
    /// What the chat reply carries (before the wording for empty output), or the error.
    package var output: String
    /// Who ran it and how (every exec quick command is an admin action): the command's journal
    /// record is its audit record too, carrying these fields. nil only for callers that give none.
    package var audit: AuditRecord? = nil
}
