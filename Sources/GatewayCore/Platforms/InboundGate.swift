import NIOConcurrencyHelpers

/// Holds the adapters' messages until `open()`, then hands them to the dispatcher. The daemon
/// starts adapters before the state store's recovery (so that replies and restart notices have
/// a connection to go out on) and opens the gate once the replays are queued: a new message must
/// not overtake a replayed one of its session.
package final class InboundGate: InboundHandler, Sendable {
    package let dispatcher: Dispatcher
    /// The state store, where adapters keep their positions in their platforms' streams.
    package let cursors: (any PlatformCursorStore)?
    /// Where the replies of platforms that acknowledge them are kept until they are taken.
    package let ledger: (any ReplyLedger)?
    private let onLedgerProblem: @Sendable (String) -> Void
    /// The ledger's deliveries, one lane per chat.
    package let lanes = DeliveryLanes()
    private let state = NIOLockedValueBox<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    private let metrics: GatewayMetrics?

    package init(_ dispatcher: Dispatcher, cursors: (any PlatformCursorStore)? = nil, ledger: (any ReplyLedger)? = nil,
                 metrics: GatewayMetrics? = nil, onLedgerProblem: @escaping @Sendable (String) -> Void = { _ in }) {
        self.dispatcher = dispatcher
        self.cursors = cursors
        self.ledger = ledger
        self.metrics = metrics
        self.onLedgerProblem = onLedgerProblem
    }

    package func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await withCheckedContinuation { continuation in
            let open = state.withLockedValue { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
        await dispatcher.handle(message, replies: ledgered(replies))
    }

    /// `replies` behind the ledger when its platform acknowledges replies and there is a ledger.
    package func ledgered(_ replies: any ReplySink) -> any ReplySink {
        guard let ledger, let acknowledged = replies as? any AcknowledgedReplySink else { return replies }
        return LedgeredReplies(acknowledged, ledger: ledger, lanes: lanes, metrics: metrics, onProblem: onLedgerProblem)
    }

    package func isAdmin(_ message: InboundMessage) async -> Bool { await dispatcher.isAdmin(message) }

    package func isAllowed(platform: String, sender: String) async -> Bool { await dispatcher.allows(platform: platform, sender: sender) }

    /// Lets the held messages through, in the order they came, and every later one at once.
    package func open() {
        let waiters = state.withLockedValue { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
