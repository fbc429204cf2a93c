/// Where replies go that no request waits for: messages replayed after a restart, restart
/// notices, chats told a message was given up on. The daemon hands them to the chat's platform.
package protocol ChatOutbox: Sendable {
    func send(_ text: String, to chat: ChatAddress) async
    /// The same, for a reply of the turn of these stored messages (see `ReplyLedger.record`).
    func send(_ text: String, to chat: ChatAddress, answering messageIDs: [Int64]) async
}

extension ChatOutbox {
    package func send(_ text: String, to chat: ChatAddress, answering messageIDs: [Int64]) async { await send(text, to: chat) }
}

extension Dispatcher {
    /// Takes up what the previous process left in the store: sessions with their turn counts,
    /// messages to replay (queued behind nothing, in the order received, started by
    /// `markRunning`), chats to tell that a message was given up on, and chats that asked for the
    /// restart. Call before `markRunning`.
    package func restore(_ recovery: StoreRecovery, outbox: any ChatOutbox) async {
        let now = clock.now()
        // The store lists them most recently active first (at most `sessions.max`, plus those
        // with messages to replay): restored oldest first, so the idle list's order is theirs.
        for record in recovery.sessions.reversed() {
            sessions.restore(record.key, turnCount: record.turnCount, usage: record.usage, now: now)
        }
        for stored in recovery.replay {
            let key = stored.session
            sessions.restore(key, turnCount: 0, now: now)
            let chat = ChatAddress(replyingTo: stored.message)
            sessions.enqueue(key, PendingMessage(
                message: stored.message, replies: OutboxReplies(chat: chat, outbox: outbox, dispatcher: self),
                storeIDs: [stored.id]))
        }
        syncSessionCounters(force: true)
        scheduleSessionSweep()
        for abandoned in recovery.abandoned {
            let message = abandoned.message
            await deliverLater(GatewayText.abandoned(abandoned.reason, text: message.message.text, attempts: message.attempts),
                               to: ChatAddress(replyingTo: message.message), outbox)
        }
        for chat in recovery.restartNotices {
            await deliverLater(GatewayText.restartedSuccessfully, to: chat, outbox)
        }
    }

    /// A reply that came after its request was answered (a message queued behind a busy turn,
    /// sent over the control socket): nobody waits for it, so it goes where every such reply
    /// goes, the event stream and the journal.
    package func announceLateReply(_ text: String, to chat: ChatAddress) {
        publish(.delayedReply(chat, text: text))
    }

    func deliverLater(_ text: String, to chat: ChatAddress, _ outbox: any ChatOutbox, answering messageIDs: [Int64] = []) async {
        publish(.delayedReply(chat, text: text))
        await outbox.send(text, to: chat, answering: messageIDs)
    }
}

/// The reply sink of a replayed message: through the outbox, and announced to subscribers.
struct OutboxReplies: TurnBoundReplySink {
    let chat: ChatAddress
    let outbox: any ChatOutbox
    let dispatcher: Dispatcher
    var messageIDs: [Int64] = []

    func send(_ text: String) async {
        await dispatcher.deliverLater(text, to: chat, outbox, answering: messageIDs)
    }

    func forTurn(of messageIDs: [Int64]) -> any ReplySink {
        var bound = self
        bound.messageIDs = messageIDs
        return bound
    }
}
