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
    let onProblem: @Sendable (String) -> Void

    package init(_ inner: any AcknowledgedReplySink, ledger: any ReplyLedger, lanes: DeliveryLanes,
                 onProblem: @escaping @Sendable (String) -> Void) {
        self.inner = inner
        self.ledger = ledger
        self.lanes = lanes
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
        let (ledger, inner) = (self.ledger, self.inner)
        await lanes.enqueue(address.platform + "\u{0}" + address.chat) {
            await inner.deliver(text) { failure in
                // Unreachable: it stays for the next start. Refused: sending again cannot help.
                if failure == nil || failure?.kind == .refused { ledger.settle(id) } else if failure?.certainlyUnsent == true { ledger.release(id) }
            }
        }
    }
}
