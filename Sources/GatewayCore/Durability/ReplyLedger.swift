/// Replies kept in `state.db` from before they are sent until their platform took them, so that
/// a restart, a crash or a platform that was away in between delays a reply instead of losing it.
///
/// Only for platforms that can send later, to a chat by its address (IRC, Matrix, Telegram):
/// their reply sinks are `AcknowledgedReplySink`s. A webhook's or the control socket's caller
/// is gone once its request ends, so nothing is kept for it.
package protocol ReplyLedger: AnyObject, Sendable {
    /// Records `text` for `address` before it is sent; durable once this returns. Counts as its
    /// first attempt: once this returns the reply may reach the chat.
    func record(_ text: String, to address: ChatAddress) async throws(StoreError) -> Int64
    /// The platform took it, or refused it for good (a recipient who is no longer the person
    /// who asked): it leaves the ledger. Applied in order after `record`, never waited for.
    func settle(_ id: Int64)
    /// The replies an earlier process left unsent on `platform` (never those of this one),
    /// oldest first, each counted as one more attempt in the same transaction that removes
    /// those past `policy`: a crash while they are sent cannot send one more often than allowed.
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
    /// Sends begun before this one. At least 1: the first began when it was recorded, so it may
    /// have reached the chat (the platform took it, the process ended before it heard so).
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
    /// Sends `text` (every part of it); returns once the platform took it. The adapter logs a
    /// failure as it happens; the error says whether trying again later could help.
    func deliver(_ text: String) async throws(DeliveryFailure)
}

extension AcknowledgedReplySink {
    package func send(_ text: String) async {
        do throws(DeliveryFailure) { try await deliver(text) } catch {}
    }
}

/// Why a reply did not reach its chat.
package struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
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

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}
