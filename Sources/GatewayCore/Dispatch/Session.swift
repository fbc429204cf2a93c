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
    /// Its value: whether the backend failed (`gatewayd_turns_total{outcome="failed"}`).
    let task: Task<Bool, Never>
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

/// Where a session's agent work stands. Only `idle` with nothing queued and nothing held lets
/// the session be evicted (see `SessionTable`).
enum TurnState {
    /// No turn: the next message starts one (or waits in `pending` while the gateway drains).
    case idle
    /// A queued message was taken off `pending` and its turn is about to start (a task is on its
    /// way to run it): busy, though no turn runs yet.
    case starting
    case running(RunningTurn)
}

/// One conversation: at most one turn at a time, and what waits behind it.
struct Session {
    let key: String
    var state: TurnState = .idle
    var pending: [PendingMessage] = []
    /// When the last busy acknowledgement went out (at most one per 30 s).
    var lastAcknowledgement: Duration?
    /// Turns run, counting those of earlier incarnations once the store has answered (see
    /// `SessionTable.adoptStoredTurns`).
    var turnCount = 0
    /// Tokens its turns used (summed in the store too, so it outlives eviction and restarts).
    var usage = AgentUsage.none
    let createdAt: Duration
    var lastActive: Duration
    /// Messages of this session between their arrival and their routing (their store write under
    /// way): the session must not be evicted under them.
    var holds = 0
    /// Tells this incarnation from a later one of the same key (evicted and back, or `/new`), so
    /// a stored turn count that arrives late lands in the right one.
    let generation: UInt64

    init(key: String, createdAt: Duration, generation: UInt64) {
        self.key = key
        self.createdAt = createdAt
        self.lastActive = createdAt
        self.generation = generation
    }

    /// What a free slot of `SessionTable` holds (empty strings and arrays: nothing allocated).
    static var vacant: Session { Session(key: "", createdAt: .zero, generation: 0) }

    /// The running turn, if any (`starting` has none yet).
    var turn: RunningTurn? {
        if case .running(let turn) = state { return turn }
        return nil
    }

    /// Nothing runs, is about to run, waits or is on its way in: memory may forget it.
    var isEvictable: Bool {
        if case .idle = state { return pending.isEmpty && holds == 0 }
        return false
    }
}

/// A session as `ListSessions` and `/status` show it.
package struct SessionSnapshot: Sendable, Equatable {
    package var key: String
    package var turnRunning: Bool
    package var queued: Int
    package var turnCount: Int
    package var usage: AgentUsage = .none
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
