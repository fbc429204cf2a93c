/// A chat platform as the gateway sees it: it turns the platform's traffic into
/// `InboundMessage`s for the dispatcher and carries replies back, split at the platform's limit.
/// Every adapter feeds the dispatcher the same way, so the dispatcher cannot tell them apart.
package protocol PlatformAdapter: AnyObject, Sendable {
    /// The `platform` of its messages (`irc`, `webhook`): the first part of session keys and of
    /// `access` sender ids.
    var name: String { get }
    /// The longest reply the platform takes in one message, in UTF-8 bytes; longer ones are split.
    var maxMessageBytes: Int { get }
    /// Starts taking messages and handing them to `inbound`; returns once serving (or throws).
    func start(inbound: any InboundHandler) async throws
    /// Stops taking messages; replies already handed over are still delivered.
    func stop() async
    /// `stop()`, delivering what is still queued for at most `limit` (the drain's remaining time).
    func stop(flushingWithin limit: Duration) async
    /// Returns once connected and able to deliver, or after `limit` (the daemon waits this before
    /// it replays what the store kept, so the first replies do not wait for a connection).
    func waitUntilReady(within limit: Duration) async
    /// A reply with no request waiting for it (after a restart), to a chat by its id.
    func send(_ text: String, to chat: String) async throws
    /// The same, with who the chat is with when it is a direct one (`ChatAddress.account`,
    /// `hostmask`): an adapter whose chat names can pass to someone else (IRC nicks) checks the
    /// name's holder against them first. The default ignores them (a webhook's chat is its caller's).
    func send(_ text: String, to address: ChatAddress) async throws
    /// The same for the ledger: `taken` is called once the platform took the text or did not
    /// (see `AcknowledgedReplySink.deliver`). The default calls it when `send` returns or throws.
    func send(_ text: String, to address: ChatAddress, taken: @escaping @Sendable (DeliveryFailure?) -> Void) async
    /// For `GetStatus` and `STATUS=`.
    func health() async -> PlatformHealth
    /// A reload's new settings for this platform, taken on the open connection if the adapter
    /// can (IRC's channels); false when only a new adapter can take them.
    func apply(_ settings: any PlatformSettings) async -> Bool
    /// A reload replaced this adapter by `successor`: replies to messages it took that come
    /// once it has stopped (a turn that outlives the replacement) go out through the successor,
    /// which checks the recipient as it would for any reply with no request waiting.
    func handOver(to successor: any PlatformAdapter)
    /// Whether a reply can reach a chat later, by its address (IRC, Telegram, Matrix): the
    /// ledger keeps such replies until they are taken; a webhook's caller is gone once its
    /// request ends, so nothing is kept for it.
    var canSendLater: Bool { get }
    /// Whether a reload may start the successor before this one stops (a webhook on a new
    /// address: its requests under way are answered); false where two would clash (IRC: two
    /// connections, one nick).
    var canRunBesideSuccessor: Bool { get }
}

extension PlatformAdapter {
    package func send(_ text: String, to address: ChatAddress) async throws { try await send(text, to: address.chat) }
    package func send(_ text: String, to address: ChatAddress, taken: @escaping @Sendable (DeliveryFailure?) -> Void) async {
        do {
            try await send(text, to: address)
            taken(nil)
        } catch {
            taken(error as? DeliveryFailure ?? DeliveryFailure(.unreachable, "\(error)"))
        }
    }
    package func stop(flushingWithin limit: Duration) async { await stop() }
    package func waitUntilReady(within limit: Duration) async {}
    package func apply(_ settings: any PlatformSettings) async -> Bool { false }
    package func handOver(to successor: any PlatformAdapter) {}
    package var canRunBesideSuccessor: Bool { false }
    package var canSendLater: Bool { false }
}

/// Where messages go: the dispatcher, or a test's recorder.
package protocol InboundHandler: Sendable {
    func handle(_ message: InboundMessage, replies: any ReplySink) async
    /// Whether the sender is an admin: an adapter sends admins' replies first, and checks harder
    /// that they reach the person who asked.
    func isAdmin(_ message: InboundMessage) async -> Bool
    /// Whether `platform:sender` may talk to the gateway (`access.allowed_users`, admins), for
    /// what an adapter decides before any message: a Matrix invite is joined only when its
    /// sender is allowed.
    func isAllowed(platform: String, sender: String) async -> Bool
    /// Where an adapter keeps its position in its platform's stream (nil: nowhere durable; it
    /// starts from what the platform still holds).
    var cursors: (any PlatformCursorStore)? { get }
}

extension InboundHandler {
    package func isAdmin(_ message: InboundMessage) async -> Bool { false }
    package func isAllowed(platform: String, sender: String) async -> Bool { false }
    package var cursors: (any PlatformCursorStore)? { nil }
}

extension Dispatcher: InboundHandler {
    package func isAdmin(_ message: InboundMessage) -> Bool { access.isAdmin(message) }
    package func isAllowed(platform: String, sender: String) async -> Bool { allows(platform: platform, sender: sender) }

    /// Whether `platform:sender` may talk to the gateway, as a direct message from them would be
    /// judged. (Named apart from `isAllowed`: a call of that on the actor from outside resolves
    /// to the protocol extension's default, which says no.)
    package func allows(platform: String, sender: String) -> Bool {
        access.isAllowed(InboundMessage(platform: platform, chat: sender, user: sender, text: ""))
    }
}

package struct PlatformHealth: Sendable, Equatable {
    package enum State: String, Sendable {
        case up, connecting, down
    }

    package var state: State
    /// What an operator should know (`listening on 127.0.0.1:8088`, `reconnecting in 8 s: ...`).
    package var detail: String

    package init(_ state: State, _ detail: String) {
        self.state = state
        self.detail = detail
    }
}

/// Splits replies for platforms with a length limit, at line breaks, then spaces, never inside
/// a character (so never inside a UTF-8 sequence).
package enum ReplySplitter {
    package static func split(_ text: String, maxBytes: Int) -> [String] {
        precondition(maxBytes >= 4, "a limit below 4 bytes cannot hold every character")
        return split(text, limit: maxBytes) { $0.utf8.count } character: { $0.utf8.count }
    }

    /// The same at a limit in UTF-16 code units (Telegram counts so: an emoji outside the basic
    /// plane is 2, a flag 4), never inside a character (so never between a surrogate pair).
    package static func split(_ text: String, maxUTF16 limit: Int) -> [String] {
        precondition(limit >= 2, "a limit below 2 code units cannot hold every character")
        return split(text, limit: limit) { $0.utf16.count } character: { $0.utf16.count }
    }

    private static func split(_ text: String, limit maxBytes: Int, length: (Substring) -> Int,
                              character size: (Character) -> Int) -> [String] {
        var parts: [String] = []
        var rest = Substring(text)
        while length(rest) > maxBytes {
            // The longest prefix of whole characters that fits.
            var end = rest.startIndex
            var bytes = 0
            for index in rest.indices {
                let size = size(rest[index])
                if bytes + size > maxBytes { break }
                bytes += size
                end = rest.index(after: index)
            }
            if end == rest.startIndex { end = rest.index(after: rest.startIndex) }  // one huge grapheme
            let head = rest[..<end]
            let cut = head.lastIndex(of: "\n") ?? head.lastIndex(of: " ")
            let splitAt = cut.flatMap { $0 > rest.startIndex ? $0 : nil } ?? end
            parts.append(String(rest[..<splitAt]))
            rest = rest[splitAt...]
            if let first = rest.first, first == "\n" || first == " " { rest = rest.dropFirst() }
        }
        if !rest.isEmpty || parts.isEmpty { parts.append(String(rest)) }
        return parts
    }
}
