import Synchronization

/// Holds the adapters' messages until `open()`, then hands them to the dispatcher. The daemon
/// starts adapters before the state store's recovery (so that replies and restart notices have
/// a connection to go out on) and opens the gate once the replays are queued: a new message must
/// not overtake a replayed one of its session.
package final class InboundGate: InboundHandler, Sendable {
    package let dispatcher: Dispatcher
    /// The state store, where adapters keep their positions in their platforms' streams.
    package let cursors: (any PlatformCursorStore)?
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    package init(_ dispatcher: Dispatcher, cursors: (any PlatformCursorStore)? = nil) {
        self.dispatcher = dispatcher
        self.cursors = cursors
    }

    package func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
        await dispatcher.handle(message, replies: replies)
    }

    package func isAdmin(_ message: InboundMessage) async -> Bool { await dispatcher.isAdmin(message) }

    /// Lets the held messages through, in the order they came, and every later one at once.
    package func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
