import NIOCore
import Synchronization

/// What the webhook's connections cost and how they ended, for tests, health and benchmarks.
package final class WebhookStatistics: Sendable {
    /// Connections open now.
    package var open: Int { openCount.load(ordering: .relaxed) }
    /// Connections taken, in all.
    package var accepted: Int { acceptedCount.load(ordering: .relaxed) }
    /// Connections closed at once because `maxConnections` were open.
    package var refused: Int { refusedCount.load(ordering: .relaxed) }
    /// Connections closed because a head, a body or the next request did not come in time.
    package var timedOut: Int { timedOutCount.load(ordering: .relaxed) }
    /// Bytes read from all connections.
    package var bytesRead: Int { bytesReadCount.load(ordering: .relaxed) }
    /// Bytes of request bodies held now, on all connections (nothing between requests).
    package var bodyBytesHeld: Int { bodyBytes.load(ordering: .relaxed) }

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

/// On the listening channel, in front of NIO's acceptor: a connection past `max_connections` (as
/// a reload last set it) is closed as
/// it is accepted, before it is registered or given a pipeline (the cheapest refusal NIO allows:
/// a flood of connections costs an accept and a close each). One admitted is held in
/// `connections` until it closes, for the adapter's stop to close; one accepted as the adapter
/// stops is closed at once.
final class WebhookConnectionCap: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let live: WebhookLiveSettings
    private let statistics: WebhookStatistics
    private let connections: WebhookConnections
    private let refused: () -> Void

    init(live: WebhookLiveSettings, statistics: WebhookStatistics, connections: WebhookConnections, refused: @escaping () -> Void) {
        self.live = live
        self.statistics = statistics
        self.connections = connections
        self.refused = refused
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let accepted = unwrapInboundIn(data)
        guard statistics.admit(limit: live.value.maxConnections) else {
            accepted.close(promise: nil)
            refused()
            return
        }
        let statistics = self.statistics
        accepted.closeFuture.whenComplete { _ in statistics.openCount.subtract(1, ordering: .relaxed) }
        guard connections.add(accepted) else {
            accepted.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
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
///
/// One timer per connection, moved lazily: a step that pushes the deadline later leaves the timer
/// where it is, and the timer, when it fires early, re-arms at the deadline then in force. Only a
/// step that brings the deadline earlier reschedules. With the default timeouts (idle = head)
/// back-to-back requests on a keep-alive connection schedule nothing at all: three timers per
/// request cost the webhook a quarter of its requests/s.
final class WebhookConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Phase { case idle, head, body, answering }

    private let configuration: WebhookConfiguration
    private let statistics: WebhookStatistics
    private(set) var phase = Phase.idle
    /// When the current phase runs out; nil while answering.
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?
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
        timer?.cancel()
        timer = nil
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
        switch next {
        case .idle: deadline = .now() + TimeAmount(configuration.idleTimeout)
        case .head: deadline = .now() + TimeAmount(configuration.headTimeout)
        case .body: deadline = .now() + TimeAmount(configuration.bodyTimeout)
        case .answering: deadline = nil
        }
        arm()
    }

    /// Makes sure a timer fires no later than the deadline.
    private func arm() {
        guard let deadline, let context else { return }
        if let timerAt, timerAt <= deadline { return }
        timer?.cancel()
        timerAt = deadline
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) { loopBound.value.timerFired() }
    }

    private func timerFired() {
        timer = nil
        timerAt = nil
        guard let deadline, let context else { return }
        if deadline <= .now() {
            statistics.timedOutCount.add(1, ordering: .relaxed)
            context.close(promise: nil)
        } else {
            arm()
        }
    }
}
