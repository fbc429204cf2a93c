import GatewayCore
import NIOCore
import NIOHTTP1
import NIOConcurrencyHelpers
import JSON

/// One HTTP/1.1 connection of the webhook: collects a request (up to 1 MiB of body), checks it,
/// dispatches it, and answers. NIO's pipelining handler hands it one request at a time.
///
/// What can be refused from the head is refused there, with the connection closed before a
/// byte of the body is read: a missing or malformed signature or timestamp (401), a declared
/// length past the limit (413). A body is held only while its request is under way: freed once
/// answered or refused, so an idle keep-alive connection holds none.
final class WebhookHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Read at each request's head: a reload's new secret or timestamp rule applies to the next one.
    private let live: WebhookLiveSettings
    private let inbound: any InboundHandler
    private let deliveries: DeliveryLog
    private let connection: WebhookConnectionGuard
    private let connections: WebhookConnections
    private let statistics: WebhookStatistics
    private var head: HTTPRequestHead?
    private var signature: WebhookSignature?
    /// The secret in force when the request's head came: a request under way when a reload
    /// rotates the secret was signed with the old one and is checked against it.
    private var signingSecret: [UInt8] = []
    private var body: [UInt8] = []
    /// The request was answered before its end; the rest of it is ignored and the connection
    /// closes once the answer is out.
    private var answeredEarly = false

    init(live: WebhookLiveSettings, inbound: any InboundHandler, deliveries: DeliveryLog,
         connection: WebhookConnectionGuard, connections: WebhookConnections, statistics: WebhookStatistics) {
        self.live = live
        self.inbound = inbound
        self.deliveries = deliveries
        self.connection = connection
        self.connections = connections
        self.statistics = statistics
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseBody()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            connection.headReceived()
            head = request
            signature = nil
            answeredEarly = false
            releaseBody()
            if connections.isStopping { return refuseWhileStopping(context, request) }
            switch (request.method, Self.path(request)) {
            case (.POST, "/webhook"):
                break
            case (.GET, "/health"):
                // A health check carries no body; one that comes with a body is answered from the
                // head and closed rather than held until the body's deadline.
                if (Self.declaredLength(request) ?? 0) > 0 || request.headers.contains(name: "transfer-encoding") {
                    return answerEarly(context, request, .ok, Self.healthBody)
                }
                return
            default:
                // Answered from the head: a body sent to a path that takes none is never read.
                let (status, answer) = Self.wrongRoute(request)
                return answerEarly(context, request, status, answer)
            }
            if let length = Self.declaredLength(request), length > WebhookConfiguration.maxBody {
                return answerEarly(context, request, .payloadTooLarge, Self.error("body larger than \(WebhookConfiguration.maxBody) bytes"))
            }
            let settings = live.value
            guard let signature = WebhookSignature(request.headers, configuration: settings) else {
                // No detail: a prober learns nothing about what it got wrong.
                return answerEarly(context, request, .unauthorized, [])
            }
            self.signature = signature
            signingSecret = settings.secret
        case .body(var buffer):
            // Only a signed POST /webhook has a body worth keeping; another's is dropped as it comes.
            guard let request = head, !answeredEarly, signature != nil else { return }
            if body.count + buffer.readableBytes > WebhookConfiguration.maxBody {
                return answerEarly(context, request, .payloadTooLarge, Self.error("body larger than \(WebhookConfiguration.maxBody) bytes"))
            }
            let count = buffer.readableBytes
            body += buffer.readBytes(length: count) ?? []
            statistics.bodyBytes.add(count, ordering: .relaxed)
        case .end:
            guard let request = head else { return }
            head = nil
            if answeredEarly { return }
            if connections.isStopping { return refuseWhileStopping(context, request) }
            connection.requestReceived()
            let bytes = body
            releaseBody()
            handle(request, body: bytes, context: context)
        }
    }

    /// A request NIO's decoder could not parse (or any other error on the connection): NIO's
    /// error handler has answered 400 with `connection: close` but leaves the closing to the
    /// pipeline. Closed here, so that the peer's further bytes are not read (they were, each
    /// answered with another 400 on a connection that stayed open until the head deadline: the
    /// webhook fuzz target's first finding).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Answers before the request's end and closes: the rest of the body is never read.
    private func answerEarly(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                             _ answer: [UInt8]) {
        answeredEarly = true
        releaseBody()
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        respond(context, request, status, answer, close: true)
    }

    /// The adapter is stopping (its connections are being closed): nothing more is dispatched.
    private func refuseWhileStopping(_ context: ChannelHandlerContext, _ request: HTTPRequestHead) {
        answerEarly(context, request, .serviceUnavailable, Self.error(WebhookConfiguration.stoppingMessage))
    }

    private func releaseBody() {
        statistics.bodyBytes.subtract(body.count, ordering: .relaxed)
        body = []
    }

    /// The body's length as the head declares it, when it does.
    private static func declaredLength(_ request: HTTPRequestHead) -> Int? {
        request.headers.first(name: "content-length").flatMap(Int.init)
    }

    private static func path(_ request: HTTPRequestHead) -> String {
        request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
    }

    private func handle(_ request: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
        switch (request.method, Self.path(request)) {
        case (.GET, "/health"):
            respond(context, request, .ok, Self.healthBody)
        case (.POST, "/webhook"):
            guard let signature = self.signature, signature.verifies(body: body, secret: signingSecret) else {
                respond(context, request, .unauthorized, [])
                return
            }
            let delivery: Delivery
            do {
                delivery = try Delivery(body)
            } catch {
                respond(context, request, .badRequest, Self.error(error.message))
                return
            }
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let boundHandler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let inbound = self.inbound, deliveries = self.deliveries
            let replayKey = signature.replayKey
            let connections = self.connections
            connections.beginRequest()
            Task { @Sendable in
                let (status, answer) = await Self.answer(delivery, replayKey: replayKey, inbound: inbound, deliveries: deliveries)
                boundContext.eventLoop.execute {
                    boundHandler.value.respond(boundContext.value, request, status, answer)
                    connections.endRequest()
                }
            }
        default:
            let (status, answer) = Self.wrongRoute(request)
            respond(context, request, status, answer)
        }
    }

    /// 405 for a known path with the wrong method, 404 for any other path.
    private static func wrongRoute(_ request: HTTPRequestHead) -> (HTTPResponseStatus, [UInt8]) {
        switch Self.path(request) {
        case "/webhook", "/health": (.methodNotAllowed, error("method \(request.method) not allowed here"))
        default: (.notFound, error("no such path; POST /webhook or GET /health"))
        }
    }

    /// The dispatcher's replies as the response body. A replay of a timestamped delivery (its
    /// signature) or a repeated `id` gets the first body again, without a second dispatch; a
    /// replay whose answer is no longer kept is refused (409).
    private static func answer(_ delivery: Delivery, replayKey: (key: DeliveryKey, timestamp: Int64)?,
                               inbound: any InboundHandler, deliveries: DeliveryLog) async -> (HTTPResponseStatus, [UInt8]) {
        var claimed: [DeliveryKey] = []
        let keys = [replayKey.map { ($0.key, Optional($0.timestamp)) }, delivery.id.map { (DeliveryKey.id($0), nil as Int64?) }]
        for case let (key, timestamp)? in keys {
            switch await deliveries.claim(key, timestamp: timestamp) {
            case .first:
                claimed.append(key)
            case .earlier(let body):
                deliveries.answer(claimed, body)
                return (.ok, body)
            case .refused(let reason):
                deliveries.answer(claimed, error(reason))
                return (.conflict, error(reason))
            }
        }
        let replies = CollectedReplies()
        await inbound.handle(InboundMessage(platform: "webhook", chat: delivery.chat, chatType: .dm,
                                            user: delivery.user, text: delivery.text), replies: replies)
        let body = JSONValue.object(["replies": .array(replies.texts.map { .string($0) })]).serialized()
        deliveries.answer(claimed, body)
        return (.ok, body)
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                         _ body: [UInt8], close: Bool = false) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(body.count)")
        let keepAlive = request.isKeepAlive && !close
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if keepAlive {
            connection.responseSent()
        } else {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in loopBound.value.close(promise: nil) }
        }
    }

    static let healthBody = JSONValue.object(["status": .string("ok")]).serialized()

    static func error(_ message: String) -> [UInt8] {
        JSONValue.object(["error": .string(message)]).serialized()
    }
}

/// The JSON body of a delivery.
struct Delivery: Sendable {
    var chat: String
    var user: String
    var text: String
    var id: String?

    init(_ body: [UInt8]) throws(PlatformError) {
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { throw PlatformError("malformed JSON: \(error)") }
        guard case .object(let fields) = value else { throw PlatformError("expected a JSON object") }
        func text(_ key: String, required: Bool) throws(PlatformError) -> String? {
            switch fields[key] {
            case .string(let value)?: return value
            case nil where !required: return nil
            case nil: throw PlatformError("missing \"\(key)\" (a string)")
            case .int(let number)? where key == "id": return String(number)
            default: throw PlatformError("\"\(key)\" must be a string")
            }
        }
        chat = try text("chat", required: true)!
        user = try text("user", required: true)!
        self.text = try text("text", required: true)!
        id = try text("id", required: false)
        guard !chat.isEmpty, !user.isEmpty else { throw PlatformError("\"chat\" and \"user\" must not be empty") }
    }
}

/// Collects a message's replies for one HTTP response.
final class CollectedReplies: ReplySink, Sendable {
    private let collected = NIOLockedValueBox<[String]>([])
    var texts: [String] { collected.withLockedValue { $0 } }
    func send(_ text: String) async { collected.withLockedValue { $0.append(text) } }
}
