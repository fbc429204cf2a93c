import GatewayCore
import Logging

/// Replies with no request waiting for them (replayed messages, restart notices, what an
/// earlier process left unsent), handed to the chat's platform adapter (split at its limit).
/// For a platform that can send later, each is recorded in the ledger first and goes through its
/// chat's lane (`DeliveryLanes`), in order with the chat's other replies. The local platform has
/// no chat to write to: the reply is in the journal (`GATEWAY_EVENT=reply`) and on `gatewayctl events`.
struct DaemonOutbox: ChatOutbox {
    let logger: Logger
    let adapters: [any PlatformAdapter]
    let ledger: (any ReplyLedger)?
    let lanes: DeliveryLanes

    func send(_ text: String, to chat: ChatAddress) async { await send(text, to: chat, answering: []) }

    func send(_ text: String, to chat: ChatAddress, answering messageIDs: [Int64]) async {
        guard chat.platform != GatewayConstants.localPlatform else { return }
        guard let adapter = adapter(for: chat) else { return }
        guard adapter.canSendLater, let ledger else {
            await lanes.enqueue(DeliveryLanes.key(chat)) { _ = await deliver(text, to: chat, through: adapter) }
            return
        }
        let id: Int64
        do throws(StoreError) {
            id = try await ledger.record(text, to: chat, answering: messageIDs)
        } catch {
            logger.warning("a reply to \(chat.platform):\(chat.chat) goes unrecorded (the ledger cannot write: \(error.message))",
                           metadata: ["event": "ledger_failed"])
            await lanes.enqueue(DeliveryLanes.key(chat)) { _ = await deliver(text, to: chat, through: adapter) }
            return
        }
        let delivery = LedgerDelivery(id: id, platform: chat.platform, ledger: ledger, metrics: GatewayMetrics.shared)
        await lanes.enqueue(DeliveryLanes.key(chat)) {
            await delivery.run(countingAttempt: true) { taken in taken(await deliver(text, to: chat, through: adapter)) }
        }
    }

    /// What an earlier process left unsent on each adapter's platform, queued in its chats'
    /// lanes in the order it was recorded: before the replies to what the store replays and to
    /// new messages (call before `Dispatcher.restore` and before the gate opens). A reply that
    /// may have reached its chat before says so.
    func resendUnsent() async {
        guard let ledger else { return }
        for adapter in adapters where adapter.canSendLater {
            let unsent: UnsentReplies
            do throws(StoreError) {
                unsent = try await ledger.takeUnsent(platform: adapter.name, policy: LedgerPolicy())
            } catch {
                logger.error("\(adapter.name): the replies left unsent before the restart cannot be read: \(error.message)",
                             metadata: ["event": "ledger_failed", "platform": "\(adapter.name)"])
                continue
            }
            GatewayMetrics.shared.reply(.abandoned, platform: adapter.name, count: unsent.abandoned)
            GatewayMetrics.shared.reply(.resent, platform: adapter.name, count: unsent.replies.count)
            if unsent.abandoned > 0 {
                logger.warning("\(adapter.name): \(unsent.abandoned) unsent repl\(unsent.abandoned == 1 ? "y" : "ies") given up (older than \(DurationValue.describe(GatewayConstants.Ledger.maxAge)) or tried \(GatewayConstants.Ledger.maxAttempts) times)",
                               metadata: ["event": "ledger_abandoned", "platform": "\(adapter.name)", "count": "\(unsent.abandoned)"])
            }
            guard !unsent.replies.isEmpty else { continue }
            logger.notice("\(adapter.name): sending \(unsent.replies.count) repl\(unsent.replies.count == 1 ? "y" : "ies") left unsent before the restart",
                          metadata: ["event": "ledger_resend", "platform": "\(adapter.name)", "count": "\(unsent.replies.count)"])
            for reply in unsent.replies {
                let text = reply.attempts > 0 ? GatewayText.possibleRepeat + reply.text : reply.text
                // The attempt was counted by `takeUnsent`.
                let delivery = LedgerDelivery(id: reply.id, platform: adapter.name, ledger: ledger, metrics: GatewayMetrics.shared)
                await lanes.enqueue(DeliveryLanes.key(reply.address)) {
                    await delivery.run(countingAttempt: false) { taken in taken(await deliver(text, to: reply.address, through: adapter)) }
                }
            }
        }
    }

    private func adapter(for chat: ChatAddress) -> (any PlatformAdapter)? {
        if let adapter = adapters.first(where: { $0.name == chat.platform }) { return adapter }
        logger.warning("no adapter for platform \(chat.platform); a reply to \(chat.chat) was not delivered", metadata: [
            "event": "reply_undelivered", "platform": "\(chat.platform)", "chat": "\(chat.chat)",
        ])
        return nil
    }

    /// Every part, each once the one before was taken; the first failure ends it (nil: all taken).
    private func deliver(_ text: String, to chat: ChatAddress, through adapter: any PlatformAdapter) async -> DeliveryFailure? {
        for part in ReplySplitter.split(text, maxBytes: adapter.maxMessageBytes) {
            let failure = await withCheckedContinuation { (done: CheckedContinuation<DeliveryFailure?, Never>) in
                let once = OnceResume(done)
                Task { await adapter.send(part, to: chat) { once.resume($0) } }
            }
            if let failure {
                logger.warning("reply to \(chat.platform):\(chat.chat) not delivered: \(failure)", metadata: [
                    "event": "reply_undelivered", "platform": "\(chat.platform)", "chat": "\(chat.chat)",
                ])
                return failure
            }
        }
        return nil
    }
}
