import NIOCore
import Synchronization

/// What the webhook's connections cost and how they ended, for tests, health and benchmarks.
public final class WebhookStatistics: Sendable {
    /// Connections open now.
    public var open: Int { openCount.load(ordering: .relaxed) }
    /// Connections taken, in all.
    public var accepted: Int { acceptedCount.load(ordering: .relaxed) }
    /// Connections closed at once because `maxConnections` were open.
    public var refused: Int { refusedCount.load(ordering: .relaxed) }
    /// Connections closed because a head, a body or the next request did not come in time.
    public var timedOut: Int { timedOutCount.load(ordering: .relaxed) }
    /// Bytes read from all connections.
    public var bytesRead: Int { bytesReadCount.load(ordering: .relaxed) }
    /// Bytes of request bodies held now, on all connections (nothing between requests).
    public var bodyBytesHeld: Int { bodyBytes.load(ordering: .relaxed) }

    let openCount = Atomic<Int>(0)
    let acceptedCount = Atomic<Int>(0)
    let refusedCount = Atomic<Int>(0)
    let timedOutCount = Atomic<Int>(0)
    let bytesReadCount = Atomic<Int>(0)
    let bodyBytes = Atomic<Int>(0)

    /// Takes a connection slot; false (and counted as refused) when all `limit` are taken.
    func admit(limit: Int) -> Bool {
        var current = openCount.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = openCount.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged {
                acceptedCount.add(1, ordering: .relaxed)
                return true
            }
            current = original
        }
        refusedCount.add(1, ordering: .relaxed)
        return false
    }
}

/// The first handler of each webhook connection, in front of the HTTP decoder: it counts the
/// bytes read and holds the connection to its deadlines, which no other handler can, since only
/// it sees a head's bytes before the head is complete:
/// - `idle`: no request under way; the first byte must come within `idleTimeout`;
/// - `head`: a request's first byte came; the head must be complete within `headTimeout`;
/// - `body`: the head came; the body must be complete within `bodyTimeout`;
/// - `answering`: the request is complete; no deadline while the dispatcher works.
/// A missed deadline closes the connection (counted). `WebhookHTTPHandler` reports the steps.
final class WebhookConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Phase { case idle, head, body, answering }

    private let configuration: WebhookConfiguration
    private let statistics: WebhookStatistics
    private(set) var phase = Phase.idle
    private var deadline: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(configuration: WebhookConfiguration, statistics: WebhookStatistics) {
        self.configuration = configuration
        self.statistics = statistics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        enter(.idle)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        statistics.bytesReadCount.add(count, ordering: .relaxed)
        if phase == .idle && count > 0 { enter(.head) }
        context.fireChannelRead(data)
    }

    /// The head is complete: the body's deadline starts.
    func headReceived() { enter(.body) }
    /// The request is complete: no deadline until the answer is out.
    func requestReceived() { enter(.answering) }
    /// The answer is out: the next request may come, within `idleTimeout`.
    func responseSent() { enter(.idle) }

    private func enter(_ next: Phase) {
        phase = next
        deadline?.cancel()
        deadline = nil
        guard let context else { return }
        let timeout: Duration
        switch next {
        case .idle: timeout = configuration.idleTimeout
        case .head: timeout = configuration.headTimeout
        case .body: timeout = configuration.bodyTimeout
        case .answering: return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let statistics = self.statistics
        deadline = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            guard let context = loopBound.value.context else { return }
            statistics.timedOutCount.add(1, ordering: .relaxed)
            context.close(promise: nil)
        }
    }
}
