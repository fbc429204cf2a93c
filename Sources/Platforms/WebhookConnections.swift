import NIOCore
import NIOConcurrencyHelpers

/// The webhook's open connections, so that `WebhookAdapter.stop()` can close them. The event
/// loops are the daemon's and outlive the adapter: closing the listening socket alone leaves
/// every keep-alive connection served, its deliveries dispatched (exec quick commands run) after
/// the drain and the store's last write.
final class WebhookConnections: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
        /// Deliveries being worked out (dispatched, not yet answered).
        var requests = 0
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Set by `stop()`: a request that comes now is answered 503 and its connection closed.
    var isStopping: Bool { state.withLockedValue { $0.stopping } }

    /// Connections held now (for tests).
    var count: Int { state.withLockedValue { $0.open.count } }

    /// Takes in an accepted connection until it closes; false once stopping (the caller closes it).
    func add(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let added = state.withLockedValue { state in
            guard !state.stopping else { return false }
            state.open[id] = channel
            return true
        }
        guard added else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            state.withLockedValue { _ = $0.open.removeValue(forKey: id) }
        }
        return true
    }

    /// Deliveries being worked out now.
    var requestsUnderWay: Int { state.withLockedValue { $0.requests } }

    /// A delivery was dispatched; `endRequest` once its answer is written.
    func beginRequest() { state.withLockedValue { $0.requests += 1 } }

    func endRequest() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.requests -= 1
            guard state.requests == 0 else { return [] }
            defer { state.idleWaiters = [] }
            return state.idleWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no delivery is being worked out, or after `limit` (a stop lets the requests
    /// under way be answered before it closes their connections).
    func waitForRequests(within limit: Duration) async {
        guard limit > .zero, state.withLockedValue({ $0.requests }) > 0 else { return }
        let deadline = ContinuousClock.now + limit
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { continuation in
                    let idle = state.withLockedValue { state -> Bool in
                        if state.requests == 0 { return true }
                        state.idleWaiters.append(continuation)
                        return false
                    }
                    if idle { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
            // The continuation still waiting (the deadline came first) is resumed, not leaked.
            let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
                defer { state.idleWaiters = [] }
                return state.idleWaiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Takes no more connections and returns those open, for the caller to close.
    func stop() -> [any Channel] {
        state.withLockedValue { state in
            state.stopping = true
            return Array(state.open.values)
        }
    }
}
