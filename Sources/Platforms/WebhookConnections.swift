import NIOCore
import Synchronization

/// The webhook's open connections, so that `WebhookAdapter.stop()` can close them. The event
/// loops are the daemon's and outlive the adapter: closing the listening socket alone leaves
/// every keep-alive connection served, its deliveries dispatched (exec quick commands run) after
/// the drain and the store's last write.
final class WebhookConnections: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
    }

    private let state = Mutex(State())

    /// Set by `stop()`: a request that comes now is answered 503 and its connection closed.
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Connections held now (for tests).
    var count: Int { state.withLock { $0.open.count } }

    /// Takes in an accepted connection until it closes; false once stopping (the caller closes it).
    func add(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let added = state.withLock { state in
            guard !state.stopping else { return false }
            state.open[id] = channel
            return true
        }
        guard added else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            state.withLock { _ = $0.open.removeValue(forKey: id) }
        }
        return true
    }

    /// Takes no more connections and returns those open, for the caller to close.
    func stop() -> [any Channel] {
        state.withLock { state in
            state.stopping = true
            return Array(state.open.values)
        }
    }
}
