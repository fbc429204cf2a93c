import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOConcurrencyHelpers

/// `POST /webhook` with `{"chat", "user", "text", "id"}`, signed as GitHub signs deliveries
/// (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`), answered with
/// `{"replies": [...]}` once the dispatcher is done. `GET /health` needs no signature.
///
/// A repeated `id` within 10 minutes gets the first answer again, without a second dispatch
/// (senders retry on timeouts; a retried "restart the backend" must not run twice); so does a
/// replay of a timestamped delivery, which is refused for as long as its timestamp is inside the
/// replay window once its answer is forgotten (`DeliveryLog`).
///
/// Each connection is bounded in time and memory: at most `maxConnections` open (past it a new
/// one is closed at once, counted and logged), deadlines for a head, a body and an idle
/// keep-alive (`WebhookConnectionGuard`), no body kept between requests, and a request that the
/// head shows to be unsigned refused before its body is read (`WebhookHTTPHandler`).
package final class WebhookAdapter: PlatformAdapter, @unchecked Sendable {
    package let name = GatewayConstants.webhookPlatform
    /// One HTTP response carries every reply; there is no per-message limit to split at.
    package let maxMessageBytes = Int.max
    package let configuration: WebhookConfiguration
    /// `configuration` as a reload last changed it in place (everything but `listen`): read per
    /// request and per accepted connection.
    let live: WebhookLiveSettings
    let deliveries: DeliveryLog
    package let statistics = WebhookStatistics()
    private let logger: Logger
    /// The daemon's one event-loop group (not shut down here).
    private let group: any EventLoopGroup
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    /// The connections open now: `stop()` closes them, since the group outlives the adapter.
    let connections = WebhookConnections()
    /// When a refused connection was last logged: one line per `refusalLogInterval` at most,
    /// with the running count, so a flood of connections is not also a flood of log lines.
    private let lastRefusalLog = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    static let refusalLogInterval: Duration = .seconds(10)

    package init(configuration: WebhookConfiguration, logger: Logger = Logger(label: "gatewayd.webhook"),
                eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        live = WebhookLiveSettings(configuration)
        group = eventLoops
        self.logger = logger
        deliveries = DeliveryLog(replayWindow: configuration.replayWindow)
    }

    /// A reload's settings for the same `listen`: the secret, the replay window, the timestamp
    /// rule and the connection limit take effect for the next request and the next connection;
    /// the listening socket and the requests under way are not touched. A new `listen` needs a
    /// new adapter (false).
    package func apply(_ settings: any PlatformSettings) async -> Bool {
        guard let new = settings as? WebhookConfiguration, new.appliesInPlace(over: live.value) else { return false }
        live.value = new
        deliveries.setReplayWindow(new.replayWindow)
        logger.info("webhook: settings applied in place", metadata: ["event": "platform_reloaded", "platform": "webhook"])
        return true
    }

    /// The address it listens on (the port the kernel chose when the configuration said 0).
    package var boundPort: Int? { channel.withLockedValue { $0?.localAddress?.port } }

    package func start(inbound: any InboundHandler) async throws {
        let configuration = self.configuration, live = self.live, deliveries = self.deliveries, statistics = self.statistics
        let connections = self.connections
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebhookConnectionCap(
                        live: live, statistics: statistics, connections: connections,
                        refused: { self.logRefusal() }))
                }
            }
            // Each connection keeps its read buffer between reads: at NIO's 64 KiB maximum, 1,000
            // idle connections that once sent a large body held 64 MiB. 16 KiB costs a 1 MiB
            // body 64 reads instead of 16.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16 << 10))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try installConnectionHandlers(on: channel.pipeline.syncOperations, inbound: inbound)
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        channel.withLockedValue { $0 = bound }
    }

    /// One accepted connection's handlers: its guard (deadlines), NIO's HTTP/1.1 server pipeline
    /// with its error handling, then the request handler. Also what the webhook fuzz target
    /// installs on an embedded channel, so that it drives exactly this pipeline.
    package func installConnectionHandlers(on pipeline: ChannelPipeline.SynchronousOperations, inbound: any InboundHandler) throws {
        let connection = WebhookConnectionGuard(configuration: configuration, statistics: statistics)
        try pipeline.addHandler(connection)
        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
        try pipeline.addHandler(WebhookHTTPHandler(live: live, inbound: inbound, deliveries: deliveries,
                                                   connection: connection, connections: connections, statistics: statistics))
    }

    /// Deliveries dispatched and not yet answered, on all connections.
    package var deliveriesUnderWay: Int { connections.requestsUnderWay }

    /// Closes the listening socket, then every connection: a request being answered loses its
    /// answer, as it did when the adapter shut its own event loops down (by now the drain is
    /// over, so none is waiting for an agent). A request that comes meanwhile gets 503.
    package func stop() async { await stop(flushingWithin: .zero) }

    /// Closes the listening socket, lets the deliveries under way be answered for at most
    /// `limit` (a request that comes meanwhile gets 503), then closes every connection.
    package func stop(flushingWithin limit: Duration) async {
        let bound = channel.withLockedValue { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
        let open = connections.stop()
        await connections.waitForRequests(within: limit)
        for closed in open.map({ $0.close() }) { try? await closed.get() }
    }

    /// A webhook on another address can listen beside the one it replaces, which then answers
    /// the requests it has under way.
    package var canRunBesideSuccessor: Bool { true }

    /// A webhook has no way to reach its sender later: a reply after a restart is only logged.
    package func send(_ text: String, to chat: String) async throws {
        throw PlatformError("the webhook platform answers in the HTTP response only; a later reply to \(chat) cannot be delivered")
    }

    func logRefusal() {
        let now = ContinuousClock.now
        let due = lastRefusalLog.withLockedValue { last in
            guard last.map({ now - $0 >= Self.refusalLogInterval }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        logger.warning("webhook: \(live.value.maxConnections) connections open; closing new ones (\(statistics.refused) so far)",
                       metadata: ["event": "webhook_refused", "refused": "\(statistics.refused)"])
    }

    package func health() async -> PlatformHealth {
        if let port = boundPort { return PlatformHealth(.up, "listening on \(configuration.host):\(port)") }
        return PlatformHealth(.down, "not listening")
    }
}

/// The webhook's settings in force now, shared by the adapter, its acceptor and its connections.
final class WebhookLiveSettings: Sendable {
    private let current: NIOLockedValueBox<WebhookConfiguration>

    init(_ configuration: WebhookConfiguration) { current = NIOLockedValueBox(configuration) }

    var value: WebhookConfiguration {
        get { current.withLockedValue { $0 } }
        set { current.withLockedValue { $0 = newValue } }
    }
}

package struct PlatformError: Error, Sendable, Equatable, CustomStringConvertible {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
