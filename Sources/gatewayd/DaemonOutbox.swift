import GatewayCore
import Logging

/// Replies with no request waiting for them, handed to the chat's platform adapter (split at
/// its limit), through the ledger: recorded before they go, settled once the platform took them.
/// The local platform has no chat to write to: the reply is in the journal
/// (`GATEWAY_EVENT=reply`) and on `gatewayctl events`.
struct DaemonOutbox: ChatOutbox {
    let logger: Logger
    let adapters: [any PlatformAdapter]
    let ledger: (any ReplyLedger)?

    func send(_ text: String, to chat: ChatAddress) async {
        guard chat.platform != GatewayConstants.localPlatform else { return }
        guard let adapter = adapter(for: chat) else { return }
        var id: Int64?
        if let ledger {
            do throws(StoreError) { id = try await ledger.record(text, to: chat) } catch {
                logger.warning("a reply to \(chat.platform):\(chat.chat) goes unrecorded (the ledger cannot write: \(error.message))",
                               metadata: ["event": "ledger_failed"])
            }
        }
        await deliver(text, to: chat, through: adapter, ledgerID: id)
    }

    /// What an earlier process left unsent on each adapter's platform, in the order it was
    /// recorded, one platform's after another's in a task of its own (a slow platform does not
    /// hold back the others, nor the start). A reply that may have reached its chat before says so.
    func resendUnsent() {
        guard let ledger else { return }
        for adapter in adapters {
            Task {
                let unsent: UnsentReplies
                do throws(StoreError) {
                    unsent = try await ledger.takeUnsent(platform: adapter.name, policy: LedgerPolicy())
                } catch {
                    logger.error("\(adapter.name): the replies left unsent before the restart cannot be read: \(error.message)",
                                 metadata: ["event": "ledger_failed", "platform": "\(adapter.name)"])
                    return
                }
                GatewayMetrics.shared.reply(.abandoned, platform: adapter.name, count: unsent.abandoned)
                GatewayMetrics.shared.reply(.resent, platform: adapter.name, count: unsent.replies.count)
                if unsent.abandoned > 0 {
                    logger.warning("\(adapter.name): \(unsent.abandoned) unsent repl\(unsent.abandoned == 1 ? "y" : "ies") given up (older than \(DurationValue.describe(GatewayConstants.Ledger.maxAge)) or tried \(GatewayConstants.Ledger.maxAttempts) times)",
                                   metadata: ["event": "ledger_abandoned", "platform": "\(adapter.name)", "count": "\(unsent.abandoned)"])
                }
                guard !unsent.replies.isEmpty else { return }
                logger.notice("\(adapter.name): sending \(unsent.replies.count) repl\(unsent.replies.count == 1 ? "y" : "ies") left unsent before the restart",
                              metadata: ["event": "ledger_resend", "platform": "\(adapter.name)", "count": "\(unsent.replies.count)"])
                for reply in unsent.replies {
                    let text = reply.attempts > 0 ? GatewayText.possibleRepeat + reply.text : reply.text
                    await deliver(text, to: reply.address, through: adapter, ledgerID: reply.id)
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

    /// Settles the ledger's row once the platform took every part, or refused it for good.
    private func deliver(_ text: String, to chat: ChatAddress, through adapter: any PlatformAdapter, ledgerID: Int64?) async {
        let parts = ReplySplitter.split(text, maxBytes: adapter.maxMessageBytes)
        let (ledger, logger) = (self.ledger, self.logger)
        let countdown = DeliveryCountdown(parts: parts.count) { failure in
            if let ledgerID {
                ledger?.settle(ledgerID, after: failure)
                GatewayMetrics.shared.reply(ReplyOutcome(failure), platform: chat.platform)
            }
            guard let failure else { return }
            let kept = failure.kind == .unreachable && ledgerID != nil
            logger.warning("reply to \(chat.platform):\(chat.chat) not delivered: \(failure)\(kept ? "; kept to send after the next start" : "")", metadata: [
                "event": "reply_undelivered", "platform": "\(chat.platform)", "chat": "\(chat.chat)",
            ])
        }
        for part in parts where !countdown.hasFailed {
            await adapter.send(part, to: chat) { failure in
                if let failure { countdown.failed(failure) } else { countdown.taken() }
            }
        }
    }
}
