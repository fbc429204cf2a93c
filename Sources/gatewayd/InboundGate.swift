import GatewayCore
import Synchronization

/// Holds the adapters' messages until the state store's replays are queued. Adapters start
/// before recovery (so that replies and restart notices have a connection to go out on), and a
/// new message must not overtake a replayed one of its session.
final class InboundGate: InboundHandler, Sendable {
    let dispatcher: Dispatcher
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init(_ dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
        await dispatcher.handle(message, replies: replies)
    }

    func isAdmin(_ message: InboundMessage) async -> Bool { await dispatcher.isAdmin(message) }

    /// Lets the held messages through, in the order they came, and every later one at once.
    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
