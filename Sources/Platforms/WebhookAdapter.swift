import GatewayCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Varlink

/// `POST /webhook` with `{"chat", "user", "text", "id"}`, signed as GitHub signs deliveries
/// (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`), answered with
/// `{"replies": [...]}` once the dispatcher is done. `GET /health` needs no signature.
///
/// A repeated `id` within 10 minutes gets the first answer again, without a second dispatch
/// (senders retry on timeouts; a retried "restart the backend" must not run twice).
public final class WebhookAdapter: PlatformAdapter, @unchecked Sendable {
    public let name = "webhook"
    /// One HTTP response carries every reply; there is no per-message limit to split at.
    public let maxMessageBytes = Int.max
    public let configuration: WebhookConfiguration
    let deliveries = DeliveryLog()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = Mutex<(any Channel)?>(nil)

    public init(configuration: WebhookConfiguration) {
        self.configuration = configuration
    }

    /// The address it listens on (the port the kernel chose when the configuration said 0).
    public var boundPort: Int? { channel.withLock { $0?.localAddress?.port } }

    public func start(inbound: any InboundHandler) async throws {
        let configuration = self.configuration, deliveries = self.deliveries
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        WebhookHTTPHandler(configuration: configuration, inbound: inbound, deliveries: deliveries))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        channel.withLock { $0 = bound }
    }

    public func stop() async {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
        try? await group.shutdownGracefully()
    }

    /// A webhook has no way to reach its sender later: a reply after a restart is only logged.
    public func send(_ text: String, to chat: String) async throws {
        throw PlatformError("the webhook platform answers in the HTTP response only; a later reply to \(chat) cannot be delivered")
    }

    public func health() async -> PlatformHealth {
        if let port = boundPort { return PlatformHealth(.up, "listening on \(configuration.host):\(port)") }
        return PlatformHealth(.down, "not listening")
    }
}

public struct PlatformError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `platforms.webhook` in the config.
public struct WebhookConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var secret: [UInt8]
    public static let maxBody = 1 << 20
    public static let replayWindow: Duration = .seconds(600)

    public init(host: String, port: Int, secret: [UInt8]) {
        self.host = host
        self.port = port
        self.secret = secret
    }

    /// From the settings: `listen: "127.0.0.1:8088"`, `secret_file: /etc/gatewayd/webhook.secret`.
    /// The secret is read from its file (never from the config text), trailing newline dropped.
    public init(settings: [String: String]) throws(PlatformError) {
        guard let listen = settings["listen"], let colon = listen.lastIndex(of: ":"),
              let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw PlatformError("platforms.webhook.listen: expected host:port such as \"127.0.0.1:8088\"")
        }
        guard let file = settings["secret_file"] else {
            throw PlatformError("platforms.webhook.secret_file: required (a file holding the shared secret)")
        }
        var secret: [UInt8]
        do {
            secret = try FileBytes.read(file, limit: 4096)
        } catch {
            throw PlatformError("platforms.webhook.secret_file: cannot read \(file): \(error)")
        }
        while let last = secret.last, last == 0x0a || last == 0x0d { secret.removeLast() }
        guard !secret.isEmpty else { throw PlatformError("platforms.webhook.secret_file: \(file) is empty") }
        self.init(host: String(listen[..<colon]), port: port, secret: secret)
    }
}

/// Answers already given (or being worked out) by delivery id, for 10 minutes.
final class DeliveryLog: Sendable {
    private enum Entry {
        case working([CheckedContinuation<[UInt8], Never>])
        case answered([UInt8])
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var order: [(id: String, at: ContinuousClock.Instant)] = []
    }

    private let state = Mutex(State())

    /// nil: first delivery, the caller works it out and calls `answer`. Otherwise the first
    /// answer (awaited if still being worked out).
    func claim(_ id: String) async -> [UInt8]? {
        enum Outcome { case first, answered([UInt8]), wait }
        let now = ContinuousClock.now
        let outcome: Outcome = state.withLock { state in
            while let oldest = state.order.first, now - oldest.at > WebhookConfiguration.replayWindow {
                state.order.removeFirst()
                state.entries[oldest.id] = nil
            }
            switch state.entries[id] {
            case nil:
                state.entries[id] = .working([])
                state.order.append((id, now))
                return .first
            case .answered(let body)?: return .answered(body)
            case .working?: return .wait
            }
        }
        switch outcome {
        case .first: return nil
        case .answered(let body): return body
        case .wait:
            return await withCheckedContinuation { continuation in
                let ready: [UInt8]? = state.withLock { state in
                    switch state.entries[id] {
                    case .working(var waiters)?:
                        waiters.append(continuation)
                        state.entries[id] = .working(waiters)
                        return nil
                    case .answered(let body)?: return body
                    case nil: return []
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    func answer(_ id: String, _ body: [UInt8]) {
        let waiters: [CheckedContinuation<[UInt8], Never>] = state.withLock { state in
            guard case .working(let waiters)? = state.entries[id] else { return [] }
            state.entries[id] = .answered(body)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: body) }
    }
}
