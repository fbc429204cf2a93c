/// An adapter's acknowledged reply sink with the ledger in front: each reply is recorded in
/// `state.db` before it goes and leaves it once the platform took it (or refused it for good).
/// One the platform could not take stays, and a later start sends it (`ReplyLedger.takeUnsent`).
/// `send` returns once the reply is recorded: its chat's lane (`DeliveryLanes`) sends it, so a
/// crash after the turn ended (and its message left the queue) cannot lose it, nor answer the
/// message twice (a replayed turn and the ledger's copy).
///
/// A ledger that cannot record (disk full, database locked) does not hold the reply back: it
/// goes unrecorded, as it would without a store, and the problem is reported once per reply.
package struct LedgeredReplies: ReplySink {
    let inner: any AcknowledgedReplySink
    let ledger: any ReplyLedger
    let lanes: DeliveryLanes
    let metrics: GatewayMetrics?
    let onProblem: @Sendable (String) -> Void

    package init(_ inner: any AcknowledgedReplySink, ledger: any ReplyLedger, lanes: DeliveryLanes, metrics: GatewayMetrics? = nil,
                 onProblem: @escaping @Sendable (String) -> Void) {
        self.inner = inner
        self.ledger = ledger
        self.lanes = lanes
        self.metrics = metrics
        self.onProblem = onProblem
    }

    package func send(_ text: String) async {
        let address = inner.address
        let id: Int64
        do throws(StoreError) {
            id = try await ledger.record(text, to: address)
        } catch {
            onProblem("a reply to \(address.platform):\(address.chat) goes unrecorded (the ledger cannot write: \(error.message)); a restart before it is sent loses it")
            // Unrecorded, it is sent before the turn goes on, as without a ledger.
            await inner.send(text)
            return
        }
        let (ledger, inner, metrics) = (self.ledger, self.inner, self.metrics)
        await lanes.enqueue(address.platform + "\u{0}" + address.chat) {
            await inner.deliver(text) { failure in
                ledger.settle(id, after: failure)
                metrics?.reply(ReplyOutcome(failure), platform: address.platform)
            }
        }
    }
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
