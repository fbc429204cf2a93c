import GatewayCore
import JSON
import NIOConcurrencyHelpers

/// Replies to one Matrix message, to its room. With `edit_streaming`, the parts of one reply
/// after the first edit the message the first became (`m.replace`, the text so far), until it
/// would pass `Defaults.maxMessageBytes`: then a new message starts, and edits go to that one.
final class MatrixReplies: AcknowledgedReplySink, Sendable {
    private let adapter: MatrixAdapter
    private let room: String
    private let editing: Bool
    /// The event being edited and its text (edit streaming only).
    private let current = NIOLockedValueBox<(id: String, text: String)?>(nil)

    init(adapter: MatrixAdapter, room: String, editing: Bool) {
        self.adapter = adapter
        self.room = room
        self.editing = editing
    }

    var address: ChatAddress { ChatAddress(platform: GatewayConstants.matrixPlatform, chat: room) }

    func deliver(_ text: String, taken: @escaping @Sendable (DeliveryFailure?) -> Void) async {
        do {
            if let successor = adapter.successor {
                try await successor.send(text, to: room)
            } else if adapter.hasStopped {
                // Nothing of it went: the ledger sends it after the next start, unmarked.
                return taken(DeliveryFailure(.unreachable, "the Matrix adapter has stopped", certainlyUnsent: true))
            } else if editing, let (id, sent) = current.withLockedValue({ $0 }),
                      case let combined = sent + "\n" + text, combined.utf8.count <= MatrixConfiguration.Defaults.maxMessageBytes {
                try await adapter.editMessage(id, in: room, to: combined)
                current.withLockedValue { $0 = (id, combined) }
            } else {
                let last = try await adapter.sendMessage(text, to: room)
                if editing { current.withLockedValue { $0 = last } }
            }
            taken(nil)
        } catch {
            adapter.logger.warning("matrix: a reply to \(room) was not delivered: \(error)",
                                   metadata: ["event": "matrix_send_failed", "room": "\(room)"])
            taken(MatrixAdapter.deliveryFailure(error))
        }
    }
}

extension MatrixAdapter {
    /// Whether sending again later could help: not when the homeserver refused the room or the
    /// message (`M_FORBIDDEN`: not in the room; 4xx: no such room, too large).
    static func deliveryFailure(_ error: any Error) -> DeliveryFailure {
        if let failure = error as? DeliveryFailure { return failure }
        guard let error = error as? MatrixAPIError else { return DeliveryFailure(.unreachable, "\(error)") }
        switch error.kind {
        case .forbidden: return DeliveryFailure(.refused, error.message)
        // A 429 or 408 without the homeserver's own body (a proxy in front of it): later.
        case .http(429), .http(408): return DeliveryFailure(.unreachable, error.message)
        case .http(let code) where code < 500: return DeliveryFailure(.refused, error.message)
        default: return DeliveryFailure(.unreachable, error.message)
        }
    }

    /// Sends `text` in parts of at most `Defaults.maxMessageBytes` UTF-8 bytes (cut at a line
    /// break, else a space, never inside a character); the last part's event id and text.
    @discardableResult
    func sendMessage(_ text: String, to room: String) async throws(MatrixAPIError) -> (id: String, text: String) {
        var last = ("", "")
        for part in ReplySplitter.split(text, maxBytes: MatrixConfiguration.Defaults.maxMessageBytes) where !part.isEmpty {
            let content: JSONValue = ["msgtype": .string(configuration.replyMessageType.rawValue), "body": .string(part)]
            last = (try await sendEvent(content, to: room), part)
        }
        return last
    }

    /// Replaces the text of the bot's event `id` (`m.replace`; clients show the new text, and
    /// `* text` where they do not know edits).
    func editMessage(_ id: String, in room: String, to text: String) async throws(MatrixAPIError) {
        let type = JSONValue.string(configuration.replyMessageType.rawValue)
        let content: JSONValue = [
            "msgtype": type, "body": .string("* " + text),
            "m.new_content": ["msgtype": type, "body": .string(text)],
            "m.relates_to": ["rel_type": "m.replace", "event_id": .string(id)],
        ]
        _ = try await sendEvent(content, to: room)
    }

    /// One `m.room.message` that must not be lost: `M_LIMIT_EXCEEDED` waits its
    /// `retry_after_ms` and sends again (as often as the homeserver asks), a network error or a
    /// 5xx is tried again up to `Defaults.maxSendRetries` times with backoff, always with the
    /// same transaction id (a send the homeserver took before the answer was lost is not
    /// repeated). Its event id.
    private func sendEvent(_ content: JSONValue, to room: String) async throws(MatrixAPIError) -> String {
        sends.begin()
        defer { sends.end() }
        let path = "/rooms/\(MatrixClientAPI.escape(room))/send/m.room.message/\(MatrixClientAPI.escape(transactions.next()))"
        var backoff = Backoff(min: configuration.backoffMin, max: configuration.backoffMax)
        var failures = 0
        while true {
            do {
                let answer = try await api.call(.PUT, path, body: content, timeout: .seconds(30))
                return answer.object?["event_id"]?.string ?? ""
            } catch {
                let wait: Duration
                if case .rateLimited(let retryAfter) = error.kind {
                    wait = retryAfter
                    logger.notice("matrix: rate limited (M_LIMIT_EXCEEDED); sending again in \(DurationValue.describe(wait))",
                                  metadata: ["event": "matrix_rate_limited"])
                } else if error.isTransient, failures < MatrixConfiguration.Defaults.maxSendRetries {
                    failures += 1
                    wait = backoff.next()
                } else {
                    throw error
                }
                do { try await Task.sleep(for: wait) } catch { throw MatrixAPIError(.cancelled, "cancelled while waiting to send again") }
            }
        }
    }
}
