import GatewayCore
import JSON
import NIOConcurrencyHelpers

/// Replies to one Telegram message, to its chat. With `edit_streaming`, the parts of one reply
/// after the first edit the message the first became (`editMessageText`, the text so far),
/// until it would pass 4096 UTF-16 units: then a new message starts, and edits go to that one.
final class TelegramReplies: AcknowledgedReplySink, Sendable {
    private let adapter: TelegramAdapter
    private let chat: Int64
    private let editing: Bool
    /// The message being edited and its text (edit streaming only).
    private let current = NIOLockedValueBox<(id: Int64, text: String)?>(nil)

    init(adapter: TelegramAdapter, chat: Int64, editing: Bool) {
        self.adapter = adapter
        self.chat = chat
        self.editing = editing
    }

    var address: ChatAddress { ChatAddress(platform: GatewayConstants.telegramPlatform, chat: String(chat)) }

    func deliver(_ text: String, taken: @escaping @Sendable (DeliveryFailure?) -> Void) async {
        do {
            if let successor = adapter.successor {
                try await successor.send(text, to: String(chat))
            } else if adapter.hasStopped {
                // Nothing of it went: the ledger sends it after the next start, unmarked.
                return taken(DeliveryFailure(.unreachable, "the Telegram adapter has stopped", certainlyUnsent: true))
            } else if editing, let (id, sent) = current.withLockedValue({ $0 }),
                      case let combined = sent + "\n" + text, combined.utf16.count <= TelegramConfiguration.Defaults.maxMessageUTF16,
                      try await edited(id, to: combined) {
                current.withLockedValue { $0 = (id, combined) }
            } else {
                let last = try await adapter.sendMessage(text, to: chat)
                if editing { current.withLockedValue { $0 = last } }
            }
            taken(nil)
        } catch {
            adapter.logger.warning("telegram: a reply to chat \(chat) was not delivered: \(error)",
                                   metadata: ["event": "telegram_send_failed", "chat": "\(chat)"])
            taken(TelegramAdapter.deliveryFailure(error))
        }
    }

    /// Whether the edit went through. A message Telegram no longer lets us edit (the person
    /// deleted it, 48 hours passed: 400) gets the text as a new message instead; other failures
    /// are the send's.
    private func edited(_ id: Int64, to text: String) async throws(TelegramAPIError) -> Bool {
        do {
            try await adapter.editMessage(id, in: chat, to: text)
            return true
        } catch where error.kind == .http(400) {
            return false
        }
    }
}

extension TelegramAdapter {
    /// Whether sending again later could help: not when Telegram rejected the message or the
    /// chat (400 chat not found, 403 blocked by the user).
    static func deliveryFailure(_ error: any Error) -> DeliveryFailure {
        if let failure = error as? DeliveryFailure { return failure }
        guard let error = error as? TelegramAPIError else { return DeliveryFailure(.unreachable, "\(error)") }
        switch error.kind {
        // A 429 or 408 without Telegram's own body (a proxy, a local Bot API server): later.
        case .http(429), .http(408): return DeliveryFailure(.unreachable, error.message)
        case .http(let code) where code < 500: return DeliveryFailure(.refused, error.message)
        case .unauthorized, .rateLimited, .conflict: return DeliveryFailure(.unreachable, error.message)
        default: return DeliveryFailure(error.isTransient || error.kind == .cancelled ? .unreachable : .refused, error.message)
        }
    }

    /// Sends `text` in parts of at most 4096 UTF-16 units (cut at a line break, else a space,
    /// never inside a character); the last part's id and text.
    @discardableResult
    func sendMessage(_ text: String, to chat: Int64) async throws(TelegramAPIError) -> (id: Int64, text: String) {
        var last: (id: Int64, text: String) = (0, "")
        for part in ReplySplitter.split(text, maxUTF16: TelegramConfiguration.Defaults.maxMessageUTF16) where !part.isEmpty {
            let result = try await call("sendMessage", ["chat_id": .int(chat), "text": .string(part)])
            last = (result.object?["message_id"]?.int ?? 0, part)
        }
        return last
    }

    func editMessage(_ id: Int64, in chat: Int64, to text: String) async throws(TelegramAPIError) {
        _ = try await call("editMessageText", ["chat_id": .int(chat), "message_id": .int(id), "text": .string(text)])
    }

    /// One call that must not be lost: a 429 waits its `retry_after` and sends again (as often
    /// as Telegram asks), a network error or a 5xx is tried again up to 5 times with backoff.
    private func call(_ method: String, _ parameters: [String: JSONValue]) async throws(TelegramAPIError) -> JSONValue {
        sends.begin()
        defer { sends.end() }
        var backoff = Backoff(min: configuration.backoffMin, max: configuration.backoffMax)
        var failures = 0
        while true {
            do {
                return try await api.call(method, parameters, timeout: .seconds(30))
            } catch {
                let wait: Duration
                if case .rateLimited(let retryAfter) = error.kind {
                    wait = retryAfter
                    logger.notice("telegram: rate limited; sending again in \(DurationValue.describe(wait))",
                                  metadata: ["event": "telegram_rate_limited"])
                } else if error.isTransient, failures < 5 {
                    failures += 1
                    wait = backoff.next()
                } else {
                    throw error
                }
                do { try await Task.sleep(for: wait) } catch { throw TelegramAPIError(.cancelled, "cancelled while waiting to send again") }
            }
        }
    }
}

/// The calls being made now: a stop waits for them, for a bounded time.
final class SendsInFlight: Sendable {
    private let started = WaitableCount(), finished = WaitableCount()

    var count: Int { started.value - finished.value }

    func begin() { started.add() }

    func end() { finished.add() }

    /// True once those begun so far have ended; false after `limit`.
    func waitUntilNone(within limit: Duration) async -> Bool {
        await finished.wait(for: started.value, within: limit)
    }
}
