import GatewayCore
import GatewayWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What the metrics listener asks of the daemon.
struct MetricsEndpoints: Sendable {
    /// Every metric family now.
    let metrics: @Sendable () async -> [Wire.Metric]
    /// Whether the dispatcher answers (`GET /healthz`), asked with a deadline of `aliveWithin`.
    let alive: @Sendable () async -> Bool
    /// Why the gateway is not ready, empty when it is (`GET /readyz`; `Wire.Status.readinessProblems`).
    let readinessProblems: @Sendable () async -> [String]
}

/// The HTTP listener of `metrics.listen`: `GET /metrics` (the Prometheus text format, or
/// OpenMetrics when the scraper asks for it), `GET /healthz`, `GET /readyz`; 404 for another path,
/// 405 for another method. One request per connection (answered with `connection: close`):
/// nothing is kept between requests. At most `maxConnections` open (more are closed as they are
/// accepted); each has `connectionTimeout` from its accept to its answer; a request head past
/// NIO's parser limit (80 KiB) closes it, and a body is read and dropped, never kept.
final class MetricsListener: Sendable {
    static let maxConnections = 64
    static let connectionTimeout: TimeAmount = .seconds(10)
    /// How long the dispatcher has to answer `/healthz` (as `gatewayctl health`'s default).
    static let aliveWithin: Duration = .seconds(1)

    let address: ListenAddress
    private let endpoints: MetricsEndpoints
    private let eventLoops: any EventLoopGroup
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    let open = Synchronization.Atomic<Int>(0)

    init(address: ListenAddress, endpoints: MetricsEndpoints, eventLoops: any EventLoopGroup) {
        self.address = address
        self.endpoints = endpoints
        self.eventLoops = eventLoops
    }

    var boundPort: Int? { channel.withLockedValue { $0?.localAddress?.port } }

    func start() async throws {
        let endpoints = self.endpoints
        let bound = try await ServerBootstrap(group: eventLoops)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 16 << 10))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let admitted = open.add(1, ordering: .relaxed).newValue
                    channel.closeFuture.whenComplete { _ in self.open.subtract(1, ordering: .relaxed) }
                    guard admitted <= Self.maxConnections else {
                        channel.close(promise: nil)
                        return
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(endpoints: endpoints))
                }
            }
            .bind(host: address.host, port: address.port).get()
        channel.withLockedValue { $0 = bound }
    }

    func stop() async {
        let bound = channel.withLockedValue { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
    }
}

/// One connection's one request.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: MetricsEndpoints
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(endpoints: MetricsEndpoints) { self.endpoints = endpoints }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: MetricsListener.connectionTimeout) { loopBound.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data), !answered else { return }
        answered = true
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard let endpoint = Endpoint(rawValue: path) else { return respond(context, head, .notFound, "not found\n") }
        guard head.method == .GET || head.method == .HEAD else {
            return respond(context, head, .methodNotAllowed, "only GET\n", extra: [("allow", "GET, HEAD")])
        }
        let endpoints = self.endpoints
        let format = MetricsExposition.Format(accept: head.headers.first(name: "accept"))
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let boundHandler = NIOLoopBound(self, eventLoop: context.eventLoop)
        Task { @Sendable in
            let (status, body, contentType) = await Self.answer(endpoint, format, endpoints)
            boundContext.eventLoop.execute {
                boundHandler.value.respond(boundContext.value, head, status, body, contentType: contentType)
            }
        }
    }

    enum Endpoint: String { case metrics = "/metrics", healthz = "/healthz", readyz = "/readyz" }

    static func answer(_ endpoint: Endpoint, _ format: MetricsExposition.Format, _ endpoints: MetricsEndpoints) async
        -> (HTTPResponseStatus, String, String)
    {
        let text = "text/plain; charset=utf-8"
        switch endpoint {
        case .metrics:
            return (.ok, MetricsExposition.render(await endpoints.metrics(), as: format), format.contentType)
        case .healthz:
            return await endpoints.alive() ? (.ok, "ok\n", text) : (.serviceUnavailable, "the dispatcher did not answer within 1 s\n", text)
        case .readyz:
            let problems = await endpoints.readinessProblems()
            return problems.isEmpty ? (.ok, "ready\n", text) : (.serviceUnavailable, problems.map { "not ready: \($0)\n" }.joined(), text)
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ body: String,
                         contentType: String = "text/plain; charset=utf-8", extra: [(String, String)] = []) {
        let bytes = Array(body.utf8)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: "\(bytes.count)")
        headers.add(name: "connection", value: "close")
        for (name, value) in extra { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD, !bytes.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
