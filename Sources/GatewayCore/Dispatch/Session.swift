/// Tickets of the messages of one session whose store writes are under way.
struct RoutingOrder {
    var issued: UInt64 = 0
    /// The ticket allowed to route now.
    var next: UInt64 = 0
    var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
}

/// A message waiting for its session's turn to end.
struct PendingMessage: Sendable {
    var message: InboundMessage
    var replies: any ReplySink
    /// Its rows in the durable queue (several once interrupting messages were merged).
    var storeIDs: [Int64] = []
}

/// The turn a session is running now.
struct RunningTurn {
    let id: UInt64
    let task: Task<Void, Never>
    let message: InboundMessage
    let replies: any ReplySink
    let storeIDs: [Int64]
    /// When `agent.turn_timeout` runs out for it.
    let deadline: Duration
    /// Set when the drain timeout interrupted it (its chat was told why).
    var interruptedByDrain = false
    /// Set when the turn timeout stopped it (its chat was told why).
    var timedOut = false
}

/// One conversation: at most one turn at a time, and what waits behind it.
struct Session {
    let key: String
    var turn: RunningTurn?
    var pending: [PendingMessage] = []
    /// When the last busy acknowledgement went out (at most one per 30 s).
    var lastAcknowledgement: Duration?
    var turnCount = 0
    let createdAt: Duration
    var lastActive: Duration
}

/// A session as `ListSessions` and `/status` show it.
package struct SessionSnapshot: Sendable, Equatable {
    package var key: String
    package var turnRunning: Bool
    package var queued: Int
    package var turnCount: Int
}

/// The gateway as `GetStatus` and `/status` show it.
package struct GatewaySnapshot: Sendable, Equatable {
    package var state: GatewayState
    package var counters: GatewayCounters

    package init(state: GatewayState, counters: GatewayCounters) {
        self.state = state
        self.counters = counters
    }

    /// Draining (or stopping) and nothing in flight: no turn, no exec quick command.
    package var isDrained: Bool {
        state.refusesNewWork && counters.turnsInFlight == 0 && counters.execRunning == 0
    }
}
