/// An adapter's acknowledged reply sink with the ledger in front: each reply is recorded in
/// `state.db` before it goes and leaves it once the platform took it (or refused it for good).
/// One the platform could not take stays, and a later start sends it (`ReplyLedger.takeUnsent`).
///
/// A ledger that cannot record (disk full, database locked) does not hold the reply back: it
/// goes unrecorded, as it would without a store, and the problem is reported once per reply.
package struct LedgeredReplies: ReplySink {
    let inner: any AcknowledgedReplySink
    let ledger: any ReplyLedger
    let onProblem: @Sendable (String) -> Void

    package init(_ inner: any AcknowledgedReplySink, ledger: any ReplyLedger, onProblem: @escaping @Sendable (String) -> Void) {
        self.inner = inner
        self.ledger = ledger
        self.onProblem = onProblem
    }

    package func send(_ text: String) async {
        let address = inner.address
        let id: Int64?
        do throws(StoreError) {
            id = try await ledger.record(text, to: address)
        } catch {
            onProblem("a reply to \(address.platform):\(address.chat) goes unrecorded (the ledger cannot write: \(error.message)); a restart before it is sent loses it")
            id = nil
        }
        do throws(DeliveryFailure) {
            try await inner.deliver(text)
            if let id { ledger.settle(id) }
        } catch {
            // Unreachable: it stays for the next start. Refused: sending again cannot help.
            if error.kind == .refused, let id { ledger.settle(id) }
        }
    }
}
