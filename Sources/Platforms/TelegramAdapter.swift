import GatewayCore
import JSON
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

/// Telegram through the Bot API: `getUpdates` long polling, replies with `sendMessage`.
///
/// Nothing taken is lost and nothing is read twice across restarts: updates are confirmed to
/// Telegram only by the next `getUpdates`'s `offset`, and that poll goes out only once every
/// message of the batch was taken by the dispatcher (an agent-bound one is then in the durable
/// queue, see `InboundReceipt`) and the new offset is stored (`PlatformCursorStore`, keyed by
/// the bot's id). It never asks Telegram to drop pending updates.
///
/// A 409 Conflict (another process polls the same token) puts health `down` with one journal
/// error, and polls again with backoff (1 s doubling to 60 s), as network errors do (health
/// `connecting`). A 429 waits `retry_after` and sends again. The token is in every request's
/// path: no log line, error or health detail shows it.
package final class TelegramAdapter: PlatformAdapter, @unchecked Sendable {
    package let name = GatewayConstants.telegramPlatform
    /// Replies are split here, at 4096 UTF-16 code units (Telegram's count), not in bytes.
    package let maxMessageBytes = Int.max
    package let configuration: TelegramConfiguration
    let api: TelegramBotAPI
    let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// The first successful poll (`waitUntilReady`).
    private let ready = WaitableCount()
    /// Replies being sent now, for `stop(flushingWithin:)`.
    let sends = SendsInFlight()

    private struct State {
        var health = PlatformHealth(.connecting, "starting")
        var loop: Task<Void, Never>?
        var identity: Identity?
        var stopped = false
        var successor: (any PlatformAdapter)?
    }

    package init(configuration: TelegramConfiguration, logger: Logger = Logger(label: "gatewayd.telegram"),
                 eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.logger = logger
        api = TelegramBotAPI(configuration: configuration, eventLoops: eventLoops)
    }

    /// The bot's `@username`, once `getMe` answered.
    package var botUsername: String? { state.withLockedValue { $0.identity?.username } }

    package func start(inbound: any InboundHandler) async throws {
        let loop = Task { await self.run(inbound) }
        state.withLockedValue { $0.loop = loop }
    }

    package func stop() async { await stop(flushingWithin: GatewayConstants.replyFlushMargin) }

    /// Ends the long poll at once (no update it has not handed over is confirmed), lets the
    /// replies under way finish for at most `limit`, then closes the HTTP client.
    package func stop(flushingWithin limit: Duration) async {
        let loop = state.withLockedValue { state -> Task<Void, Never>? in
            state.stopped = true
            state.health = PlatformHealth(.down, "stopped")
            return state.loop
        }
        loop?.cancel()
        await loop?.value
        if await !sends.waitUntilNone(within: limit) {
            logger.warning("telegram: stopping with \(sends.count) replies still being sent", metadata: ["event": "telegram_unsent"])
        }
        await api.shutdown()
    }

    package func waitUntilReady(within limit: Duration) async {
        await ready.wait(for: 1, within: limit)
    }

    package func handOver(to successor: any PlatformAdapter) {
        state.withLockedValue { $0.successor = successor }
    }

    package func health() async -> PlatformHealth { state.withLockedValue { $0.health } }

    package var canSendLater: Bool { true }

    /// Once stopped and replaced by a reload: the adapter that sends replies now.
    var successor: (any PlatformAdapter)? { state.withLockedValue { $0.stopped ? $0.successor : nil } }

    /// A reply with no request waiting (after a restart, a restart notice): to a chat by its id.
    package func send(_ text: String, to chat: String) async throws {
        guard let id = Int64(chat) else { throw DeliveryFailure(.refused, "telegram: \(chat.debugDescription) is not a chat id") }
        if let successor {
            try await successor.send(text, to: chat)
            return
        }
        if hasStopped { throw DeliveryFailure(.unreachable, "the Telegram adapter has stopped", certainlyUnsent: true) }
        do { _ = try await sendMessage(text, to: id) } catch { throw Self.deliveryFailure(error) }
    }

    // MARK: Polling

    /// Once stopped, health stays `down`: a poll that ends after the stop began does not set it back
    /// (seen under load: `up` after `stop()` returned).
    private func setHealth(_ health: PlatformHealth) { state.withLockedValue { if !$0.stopped { $0.health = health } } }
    private var stopped: Bool { state.withLockedValue { $0.stopped } || Task.isCancelled }
    /// Stopped (its client is shut down or about to be): a reply handed over now is not sent.
    var hasStopped: Bool { state.withLockedValue { $0.stopped } }

    private func run(_ inbound: any InboundHandler) async {
        var backoff = Backoff(min: configuration.backoffMin, max: configuration.backoffMax)
        var offset: Int64?
        var cursorKey: String?
        var failing: TelegramAPIError.Kind?
        let timeout = configuration.pollTimeout
        while !stopped {
            do throws(TelegramAPIError) {
                if cursorKey == nil {
                    let me = try await api.call("getMe", [:], timeout: .seconds(30))
                    guard let id = me.object?["id"]?.int, let username = me.object?["username"]?.string else {
                        throw TelegramAPIError(.malformed, "getMe: the answer has no id or username")
                    }
                    state.withLockedValue { $0.identity = Identity(id: id, username: username) }
                    let key = "\(name):\(id)"
                    offset = await loadOffset(inbound, key)
                    cursorKey = key
                }
                var parameters: [String: JSONValue] = [
                    "timeout": .int(Int64(timeout.components.seconds)), "allowed_updates": ["message"],
                ]
                if let offset { parameters["offset"] = .int(offset) }
                let result = try await api.call("getUpdates", parameters, timeout: timeout + .seconds(15))
                if let kind = failing {
                    logger.notice("telegram: polling again\(kind == .conflict ? "; the conflict is over" : "")",
                                  metadata: ["event": "telegram_polling"])
                    failing = nil
                }
                backoff.reset()
                setHealth(PlatformHealth(.up, "polling as @\(botUsername ?? "?")"))
                ready.add()
                let updates = result.array ?? []
                guard let last = updates.compactMap({ $0.object?["update_id"]?.int }).max() else { continue }
                // Stopped before all were taken: the offset stays (what was taken may come again).
                guard await handOver(updates, inbound) else { break }
                // Taken, all of them: stored before the next poll confirms them to Telegram.
                offset = last + 1
                if let key = cursorKey, let cursors = inbound.cursors {
                    do { try await cursors.setCursor(String(last + 1), for: key) } catch {
                        logger.warning("telegram: cannot store the update offset: \(error.message)", metadata: ["event": "telegram_offset"])
                    }
                }
            } catch {
                if error.kind == .cancelled || stopped { break }
                let wait: Duration
                if case .rateLimited(let retryAfter) = error.kind { wait = retryAfter } else { wait = backoff.next() }
                report(error, retryingIn: wait, previous: failing)
                failing = error.kind
                do { try await Task.sleep(for: wait) } catch { break }
            }
        }
    }

    /// The stored offset; nil (start from what Telegram still holds) when there is none.
    private func loadOffset(_ inbound: any InboundHandler, _ key: String) async -> Int64? {
        guard let cursors = inbound.cursors else { return nil }
        do {
            return try await cursors.cursor(for: key).flatMap { Int64($0) }
        } catch {
            logger.warning("telegram: cannot read the stored update offset (\(error.message)); reading what Telegram holds",
                           metadata: ["event": "telegram_offset"])
            return nil
        }
    }

    /// Each message of the batch to the dispatcher in order, the next once the last is taken;
    /// false when the adapter stopped first.
    private func handOver(_ updates: [JSONValue], _ inbound: any InboundHandler) async -> Bool {
        let username = botUsername ?? "", allowed = configuration.allowedChats
        for update in updates {
            guard let message = Self.inbound(update, botUsername: username, allowedChats: allowed),
                  let chat = Int64(message.chat) else { continue }
            let replies = TelegramReplies(adapter: self, chat: chat, editing: configuration.editStreaming)
            guard await InboundReceipt.hand(message, to: inbound, replies: replies) else { return false }
        }
        return true
    }

    /// Health and the journal for a failed call: one error when a conflict begins (not one per
    /// poll), a warning when other failures begin, debug lines while they go on.
    private func report(_ error: TelegramAPIError, retryingIn wait: Duration, previous: TelegramAPIError.Kind?) {
        let again = "; polling again in \(DurationValue.describe(wait))"
        switch error.kind {
        case .conflict:
            setHealth(PlatformHealth(.down, GatewayText.telegramConflict))
            if previous != .conflict {
                logger.error("telegram: \(GatewayText.telegramConflict) (409 from getUpdates: stop the other one, or delete its webhook)\(again)",
                             metadata: ["event": "telegram_conflict", "platform": "telegram"])
            }
        case .unauthorized:
            setHealth(PlatformHealth(.down, "the Bot API refused the token: \(error.message)"))
            if previous != .unauthorized {
                logger.error("telegram: the Bot API refused the token (\(error.message))\(again)", metadata: ["event": "telegram_unauthorized"])
            }
        default:
            setHealth(PlatformHealth(.connecting, "\(error.message)\(again)"))
            if previous == nil || previous == .conflict || previous == .unauthorized {
                logger.warning("telegram: \(error.message)\(again)", metadata: ["event": "telegram_poll_failed"])
            } else {
                logger.debug("telegram: \(error.message)\(again)", metadata: ["event": "telegram_poll_failed"])
            }
        }
    }
}

/// 1 s doubling to 60 s (the configuration's bounds).
struct Backoff {
    let min: Duration, max: Duration
    private var current: Duration?

    init(min: Duration, max: Duration) {
        self.min = min
        self.max = max
    }

    mutating func next() -> Duration {
        let wait = current.map { Swift.min($0 * 2, max) } ?? min
        current = wait
        return wait
    }

    mutating func reset() { current = nil }
}
