import NIOConcurrencyHelpers

/// Replies kept in `state.db` from before they are sent until their platform took them, so that
/// a restart, a crash or a platform that was away in between delays a reply instead of losing it.
///
/// Only for platforms that can send later, to a chat by its address (IRC, Matrix, Telegram):
/// their reply sinks are `AcknowledgedReplySink`s. A webhook's or the control socket's caller
/// is gone once its request ends, so nothing is kept for it.
package protocol ReplyLedger: AnyObject, Sendable {
    /// Records `text` for `address` before it is sent; durable once this returns. `messageIDs`
    /// are the stored messages whose turn it answers (empty for other replies): a message
    /// replayed after a crash takes its turn's unsent replies with it, since the new turn answers
    /// again (`StateStore.recover`).
    func record(_ text: String, to address: ChatAddress, answering messageIDs: [Int64]) async throws(StoreError) -> Int64
    /// A send of it begins: from now on it may reach the chat (a later start marks it as a
    /// possible repeat). Durable once this returns; a failure to write it is only reported.
    func beginAttempt(_ id: Int64) async
    /// Its send ended before any of it reached the platform (IRC lines still queued at a
    /// stop): that attempt does not count, and a later start sends it without the repeat mark.
    func release(_ id: Int64)
    /// The platform took it, or refused it for good (a recipient who is no longer the person
    /// who asked): it leaves the ledger. Applied in order after `record`, never waited for.
    func settle(_ id: Int64)
    /// The replies an earlier process left unsent on `platform` (never those of this one),
    /// oldest first, each counted as one more attempt in the same transaction that removes
    /// those past `policy` (of every platform, for their age: a platform no longer configured
    /// leaves nothing behind for ever): a crash while they are sent cannot send one more often
    /// than allowed.
    func takeUnsent(platform: String, policy: LedgerPolicy) async throws(StoreError) -> UnsentReplies
}

/// How long and how often an unsent reply is tried again.
package struct LedgerPolicy: Sendable, Equatable {
    /// Sends begun, counting the first: a reply that failed this often is given up.
    package var maxAttempts: Int
    /// A reply older than this is given up: an answer a day late misleads more than it helps.
    package var maxAge: Duration

    package init(maxAttempts: Int = GatewayConstants.Ledger.maxAttempts, maxAge: Duration = GatewayConstants.Ledger.maxAge) {
        self.maxAttempts = maxAttempts
        self.maxAge = maxAge
    }
}

/// A reply an earlier process recorded and did not see taken.
package struct UnsentReply: Sendable, Equatable {
    package var id: Int64
    package var address: ChatAddress
    package var text: String
    /// Sends begun before this one: above 0, it may have reached the chat (the platform took
    /// it, the process ended before it heard so).
    package var attempts: Int
    package var recordedUsec: Int64

    package init(id: Int64, address: ChatAddress, text: String, attempts: Int, recordedUsec: Int64) {
        self.id = id
        self.address = address
        self.text = text
        self.attempts = attempts
        self.recordedUsec = recordedUsec
    }
}

package struct UnsentReplies: Sendable, Equatable {
    /// To send now, oldest first.
    package var replies: [UnsentReply]
    /// Given up (too old, or tried `maxAttempts` times) and removed.
    package var abandoned: Int

    package init(replies: [UnsentReply] = [], abandoned: Int = 0) {
        self.replies = replies
        self.abandoned = abandoned
    }
}

/// A reply sink whose platform says whether a reply arrived: the gateway keeps each reply in
/// the ledger until it did (see `InboundGate`), and sends it again after a restart if it did not.
package protocol AcknowledgedReplySink: ReplySink {
    /// Where the reply goes when it is sent again by a later process (`PlatformAdapter.send(_:to:)`).
    var address: ChatAddress { get }
    /// Hands `text` (every part of it) to the platform, and calls `taken` once, from any task,
    /// when the platform took all of it (nil) or did not (why: whether trying again later could
    /// help). Returns when the next reply may be handed over: replies keep their order. An
    /// adapter that sends at once (Telegram) returns after `taken`; one with a queue (IRC's flood
    /// limit) returns once the lines are queued, and calls `taken` when the last is written.
    /// The adapter logs a failure as it happens.
    func deliver(_ text: String, taken: @escaping @Sendable (DeliveryFailure?) -> Void) async
}

extension AcknowledgedReplySink {
    package func send(_ text: String) async { await deliver(text) { _ in } }
}

/// Calls `done` once: with the first failure of any part, or with nil once every part was taken.
package final class DeliveryCountdown: Sendable {
    private let state: NIOLockedValueBox<(left: Int, failed: Bool, done: (@Sendable (DeliveryFailure?) -> Void)?)>

    private let parts: Int

    package init(parts: Int, done: @escaping @Sendable (DeliveryFailure?) -> Void) {
        self.parts = parts
        state = NIOLockedValueBox((parts, false, done))
        if parts <= 0 { taken() }
    }

    /// A part failed: the parts not handed over yet need not be.
    package var hasFailed: Bool { state.withLockedValue { $0.failed } }

    /// One part was taken.
    package func taken() {
        let done = state.withLockedValue { state -> (@Sendable (DeliveryFailure?) -> Void)? in
            state.left -= 1
            guard state.left <= 0 else { return nil }
            defer { state.done = nil }
            return state.done
        }
        done?(nil)
    }

    /// A part was not: the rest does not matter. Not `certainlyUnsent` once a part was taken.
    package func failed(_ failure: DeliveryFailure) {
        var failure = failure
        let done = state.withLockedValue { state -> (@Sendable (DeliveryFailure?) -> Void)? in
            state.failed = true
            if state.left < parts { failure.certainlyUnsent = false }
            defer { state.done = nil }
            return state.done
        }
        done?(failure)
    }
}

/// Why a reply did not reach its chat.
package struct DeliveryFailure: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// The platform could not be reached or did not answer: the reply stays in the ledger
        /// and is sent again after the next start.
        case unreachable
        /// Sending again cannot help (the recipient is no longer who asked, the chat is gone,
        /// the platform rejected the message): it leaves the ledger.
        case refused
    }

    package var kind: Kind
    package var message: String
    /// Known not to have reached the platform at all (no part of it was sent).
    package var certainlyUnsent: Bool

    package init(_ kind: Kind, _ message: String, certainlyUnsent: Bool = false) {
        self.kind = kind
        self.message = message
        self.certainlyUnsent = certainlyUnsent
    }

    package var description: String { message }
}
