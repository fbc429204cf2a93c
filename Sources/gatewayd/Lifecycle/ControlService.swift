import ServiceLifecycle
import StateStore
import NIOConcurrencyHelpers
import Varlink

/// The control socket for the group's life. The daemon binds it once the dispatcher runs
/// (READY=1 follows); this service closes it at the group's shutdown, after the drain and the
/// adapters' last replies, letting calls being answered finish (a `Restart` caller gets its
/// reply before the daemon exits).
final class ControlService: Service, Sendable {
    private let server = NIOLockedValueBox<VarlinkServer?>(nil)

    /// The server the daemon bound.
    func serve(_ bound: VarlinkServer) { server.withLockedValue { $0 = bound } }

    var current: VarlinkServer? { server.withLockedValue { $0 } }

    func run() async throws {
        try? await gracefulShutdown()
        await current?.shutdown()
    }
}

/// The durable queue's last writes, once the adapters have handed over their last replies.
struct StoreService: Service {
    let store: StateStore?

    func run() async throws {
        try? await gracefulShutdown()
        await store?.flush()
    }
}
