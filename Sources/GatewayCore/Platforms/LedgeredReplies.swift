import NIOConcurrencyHelpers

/// An adapter's acknowledged reply sink with the ledger in front: each reply is recorded in
/// `state.db` before it goes and leaves it once the platform took it (or refused it for good).
/// `send` returns once the reply is recorded: its chat's lane (`DeliveryLanes`) sends it, so the
/// turn goes on while the platform takes its time, and a crash after the turn ended (its message
/// gone from the queue) does not lose the reply. A crash before the turn ended replays the
/// message, and the replies its first turn left unsent go with it (`messageIDs`): it is not
/// answered twice.
///
/// A ledger that cannot record (disk full, database locked) does not hold the reply back: it
/// goes unrecorded through the same lane, as it would without a store, and the problem is reported.
package struct LedgeredReplies: TurnBoundReplySink {
    let inner: any AcknowledgedReplySink
    let ledger: any ReplyLedger
    let lanes: DeliveryLanes
    let metrics: GatewayMetrics?
    let onProblem: @Sendable (String) -> Void
    /// The stored messages of the turn these replies answer (none outside a turn).
    var messageIDs: [Int64] = []

    package init(_ inner: any AcknowledgedReplySink, ledger: any ReplyLedger, lanes: DeliveryLanes, metrics: GatewayMetrics? = nil,
                 onProblem: @escaping @Sendable (String) -> Void) {
        self.inner = inner
        self.ledger = ledger
        self.lanes = lanes
        self.metrics = metrics
        self.onProblem = onProblem
    }

    package func forTurn(of messageIDs: [Int64]) -> any ReplySink {
        var bound = self
        bound.messageIDs = messageIDs
        return bound
    }

    package func send(_ text: String) async {
        let address = inner.address, inner = self.inner
        let lane = DeliveryLanes.key(address)
        let id: Int64
        do throws(StoreError) {
            id = try await ledger.record(text, to: address, answering: messageIDs)
        } catch {
            onProblem("a reply to \(address.platform):\(address.chat) goes unrecorded (the ledger cannot write: \(error.message)); a restart before it is sent loses it")
            await lanes.enqueue(lane) { await inner.send(text) }
            return
        }
        let delivery = LedgerDelivery(id: id, platform: address.platform, ledger: ledger, metrics: metrics)
        await lanes.enqueue(lane) { await delivery.run(countingAttempt: true) { taken in await inner.deliver(text, taken: taken) } }
    }
}

/// A reply sink that can say which stored messages its replies answer (see `LedgeredReplies`).
package protocol TurnBoundReplySink: ReplySink {
    /// The same sink, its replies linked to the turn of `messageIDs`.
    func forTurn(of messageIDs: [Int64]) -> any ReplySink
}

/// One recorded reply's way to its platform, run in its chat's lane: the attempt is written
/// before the send (so a later start knows it may have reached the chat), the send is awaited
/// until the platform took it, refused it, or could not be reached. Unreachable, it is tried
/// again (1 s doubling to 60 s) for as long as the adapter serves and within the ledger's age:
/// the chat's later replies wait behind it, in order; a stopped adapter leaves it to the next
/// start.
package struct LedgerDelivery: Sendable {
    let id: Int64
    let platform: String
    let ledger: any ReplyLedger
    let metrics: GatewayMetrics?
    let maxAge: Duration

    package init(id: Int64, platform: String, ledger: any ReplyLedger, metrics: GatewayMetrics?,
                 maxAge: Duration = GatewayConstants.Ledger.maxAge) {
        self.id = id
        self.platform = platform
        self.ledger = ledger
        self.metrics = metrics
        self.maxAge = maxAge
    }

    /// `send` hands the text over and calls its argument once with the outcome. Returns the last
    /// outcome (nil: taken).
    @discardableResult
    package func run(countingAttempt: Bool,
                     _ send: @escaping @Sendable (@escaping @Sendable (DeliveryFailure?) -> Void) async -> Void) async -> DeliveryFailure? {
        let started = ContinuousClock.now
        var wait = Duration.seconds(1)
        // An earlier try that may have reached the platform (a timeout): the reply is not known unsent.
        var mayHaveReached = false
        if countingAttempt { await ledger.beginAttempt(id) }
        while true {
            var failure = await withCheckedContinuation { (done: CheckedContinuation<DeliveryFailure?, Never>) in
                let once = OnceResume(done)
                Task { await send { once.resume($0) } }
            }
            if mayHaveReached { failure?.certainlyUnsent = false }
            guard let unreachable = failure, unreachable.kind == .unreachable, !unreachable.certainlyUnsent,
                  ContinuousClock.now - started + wait < maxAge else {
                ledger.settle(id, after: failure)
                metrics?.reply(ReplyOutcome(failure), platform: platform)
                return failure
            }
            mayHaveReached = true
            try? await Task.sleep(for: wait)
            wait = min(wait * 2, .seconds(60))
        }
    }
}

/// Resumes a continuation once, whoever calls first.
package final class OnceResume<T: Sendable>: Sendable {
    private let continuation: NIOLockedValueBox<CheckedContinuation<T, Never>?>

    package init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = NIOLockedValueBox(continuation) }

    package func resume(_ value: T) { continuation.withLockedValue { $0.take() }?.resume(returning: value) }
}

extension ReplyLedger {
    /// After a send: taken or refused for good, it leaves the ledger; unreachable, it stays for
    /// the next start (without counting as an attempt when nothing of it left).
    package func settle(_ id: Int64, after failure: DeliveryFailure?) {
        guard let failure, failure.kind == .unreachable else { return settle(id) }
        if failure.certainlyUnsent { release(id) }
    }
}

extension ReplyOutcome {
    package init(_ failure: DeliveryFailure?) {
        self = failure == nil ? .delivered : failure?.kind == .refused ? .refused : .kept
    }
}
