import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Telegram Bot API server on loopback, speaking its HTTP+JSON as the real one does
/// (`POST /bot<token>/<method>` with a JSON body; `{"ok": true, "result": ...}` or
/// `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`), one thread per
/// connection, keep-alive. `getUpdates` long polls and confirms updates below its `offset`, as
/// Telegram does; `sendMessage` refuses texts over 4096 UTF-16 code units as Telegram does.
///
/// The test posts users' messages (`post`), reads what the bot sent (`sent`), and can make
/// `sendMessage` answer 429 (`rateLimitNextSends`) or `getUpdates` answer 409 (`conflict`).
public final class FakeTelegramServer: @unchecked Sendable {
    public static let botID: Int64 = 4242
    public static let botUsername = "gatewayd_bot"

    public struct Sent: Sendable, Equatable {
        public var chat: Int64
        public var text: String
        public var messageID: Int64
        /// Set by `editMessageText`: the message's text as it is now.
        public var edited: Bool
    }

    public struct Call: Sendable {
        public var method: String
        public var body: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(bodyBytes))) as? [String: Any] ?? [:] }
        public var bodyBytes: [UInt8]
        public var at: ContinuousClock.Instant
    }

    public let port: Int
    public let token: String
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var updates: [(id: Int64, json: String)] = []
    private var nextUpdateID: Int64 = 1000
    private var nextMessageID: Int64 = 1
    private var sentMessages: [Sent] = []
    private var sentPerChat: [Int64: Int] = [:]
    private var calls: [Call] = []
    private var rateLimited: [(count: Int, retryAfter: Int)] = []
    private var conflicting = false
    private var holding = false
    private var stopped = false
    private var connections: Set<Int32> = []

    public init(token: String = "4242:AAF-fake_token-ABCDEFGHIJKLMNOPQRSTUV") throws {
        self.token = token
        (listener, port) = try LoopbackHTTP.listen("fake Bot API")
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { close(listener) }

    public func stop() {
        let open = locked { () -> Set<Int32> in
            stopped = true
            return connections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    // MARK: The test's side

    /// A user's text message, waiting for the bot's next `getUpdates`; its update id.
    @discardableResult
    public func post(_ text: String, from user: Int64 = 1001, chat: Int64? = nil, group: Bool = false, isBot: Bool = false) -> Int64 {
        let chatID = chat ?? user
        let chatJSON = group ? #"{"id":\#(chatID),"type":"supergroup","title":"ops"}"# : #"{"id":\#(chatID),"type":"private","first_name":"u\#(user)"}"#
        return addUpdate { id in
            #"{"update_id":\#(id),"message":{"message_id":\#(id),"date":1700000000,"from":{"id":\#(user),"is_bot":\#(isBot),"first_name":"u\#(user)"},"chat":\#(chatJSON),"text":\#(jsonString(text))}}"#
        }
    }

    /// Any update (a photo, an edited message), built from its id.
    @discardableResult
    public func addUpdate(_ json: (Int64) -> String) -> Int64 {
        locked {
            let id = nextUpdateID
            nextUpdateID += 1
            updates.append((id, json(id)))
            return id
        }
    }

    /// The next `count` sendMessage calls answer 429 with `retry_after`.
    public func rateLimitNextSends(_ count: Int, retryAfter: Int) { locked { rateLimited.append((count, retryAfter)) } }

    /// While true, `getUpdates` answers 409 Conflict, a waiting one at once (as when another
    /// process polls the token).
    public func setConflict(_ on: Bool) { locked { conflicting = on } }

    /// While on, `sendMessage` and `editMessageText` are taken (they are in `requests`) and never
    /// answered: a reply in flight when the gateway dies. Off: the held ones fail with 502 and
    /// count as not sent.
    public func holdSends(_ on: Bool) {
        condition.lock()
        holding = on
        condition.broadcast()
        condition.unlock()
    }

    public var sent: [Sent] { locked { sentMessages } }
    public var requests: [Call] { locked { calls } }
    /// Updates not yet confirmed by an offset.
    public var pendingUpdates: Int { locked { updates.count } }

    /// Blocks until `predicate` holds for the messages sent (true) or `timeout` passes (false).
    public func waitForSent(timeout: Duration = .seconds(30), _ predicate: ([Sent]) -> Bool) -> Bool {
        waitUntil(timeout: timeout) { predicate(self.sentMessages) }
    }

    /// Waits until at least `count` messages were sent to `chat` (cheap: no scan of what was
    /// sent, for benchmarks); false after `timeout`.
    public func waitForSent(toChat chat: Int64, count: Int, timeout: Duration = .seconds(30)) -> Bool {
        waitUntil(timeout: timeout) { sentPerChat[chat, default: 0] >= count }
    }

    /// Blocks until `predicate` holds for the calls made (true) or `timeout` passes (false).
    public func waitForCalls(timeout: Duration = .seconds(30), _ predicate: ([Call]) -> Bool) -> Bool {
        waitUntil(timeout: timeout) { predicate(self.calls) }
    }

    private func waitUntil(timeout: Duration, _ holds: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds))
        condition.lock()
        defer { condition.unlock() }
        while !holds() {
            if !condition.wait(until: deadline) { return holds() }
        }
        return true
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return body()
    }

    // MARK: Serving

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let accepted = locked { () -> Bool in
                if stopped { return false }
                connections.insert(fd)
                return true
            }
            guard accepted else { close(fd); return }
            Thread.detachNewThread { [self] in
                var buffer: [UInt8] = []
                while let request = LoopbackHTTP.readRequest(fd, &buffer), respond(fd, path: request.path, body: request.body) {}
                locked { _ = connections.remove(fd) }
                close(fd)
            }
        }
    }

    private func respond(_ fd: Int32, path: String, body: [UInt8]) -> Bool {
        let prefix = "/bot\(token)/"
        guard path.hasPrefix(prefix) else {
            return reply(fd, 401, #"{"ok":false,"error_code":401,"description":"Unauthorized"}"#)
        }
        let method = String(path.dropFirst(prefix.count))
        locked { calls.append(Call(method: method, bodyBytes: body, at: .now)) }
        let parameters = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        switch method {
        case "getMe":
            return ok(fd, #"{"id":\#(Self.botID),"is_bot":true,"first_name":"gatewayd","username":"\#(Self.botUsername)"}"#)
        case "getUpdates":
            return getUpdates(fd, parameters)
        case "sendMessage", "editMessageText":
            condition.lock()
            var held = false
            while holding && !stopped {
                held = true
                condition.wait()
            }
            condition.unlock()
            if held { return reply(fd, 502, #"{"ok":false,"error_code":502,"description":"Bad Gateway"}"#) }
            guard let chat = (parameters["chat_id"] as? NSNumber)?.int64Value, let text = parameters["text"] as? String else {
                return reply(fd, 400, #"{"ok":false,"error_code":400,"description":"Bad Request: chat_id and text are required"}"#)
            }
            guard text.utf16.count <= 4096, !text.isEmpty else {
                return reply(fd, 400, #"{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}"#)
            }
            if method == "sendMessage", let wait = locked({ takeRateLimit() }) {
                return reply(fd, 429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after \#(wait)","parameters":{"retry_after":\#(wait)}}"#)
            }
            let id = locked { () -> Int64 in
                if method == "editMessageText", let edited = (parameters["message_id"] as? NSNumber)?.int64Value,
                   let index = sentMessages.firstIndex(where: { $0.messageID == edited && $0.chat == chat }) {
                    sentMessages[index].text = text
                    sentMessages[index].edited = true
                    return edited
                }
                defer { nextMessageID += 1 }
                sentMessages.append(Sent(chat: chat, text: text, messageID: nextMessageID, edited: false))
                sentPerChat[chat, default: 0] += 1
                return nextMessageID
            }
            return ok(fd, #"{"message_id":\#(id),"date":1700000000,"chat":{"id":\#(chat),"type":"private"},"text":\#(jsonString(text))}"#)
        default:
            return reply(fd, 404, #"{"ok":false,"error_code":404,"description":"Not Found"}"#)
        }
    }

    private func takeRateLimit() -> Int? {
        guard !rateLimited.isEmpty else { return nil }
        let wait = rateLimited[0].retryAfter
        rateLimited[0].count -= 1
        if rateLimited[0].count <= 0 { rateLimited.removeFirst() }
        return wait
    }

    /// Confirms what is below `offset`, then answers at once with what waits, or after
    /// `timeout` seconds with nothing (or as soon as an update comes).
    private func getUpdates(_ fd: Int32, _ parameters: [String: Any]) -> Bool {
        let offset = (parameters["offset"] as? NSNumber)?.int64Value
        let timeout = (parameters["timeout"] as? NSNumber)?.intValue ?? 0
        let deadline = Date(timeIntervalSinceNow: Double(timeout))
        condition.lock()
        if let offset, !conflicting { updates.removeAll { $0.id < offset } }
        // Another poller's request ends this one with 409, as Telegram's "terminated by other
        // getUpdates request" does, even while it waits.
        while updates.isEmpty && !stopped && !conflicting && condition.wait(until: deadline) {}
        if conflicting {
            condition.unlock()
            return reply(fd, 409, #"{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}"#)
        }
        let batch = updates.prefix(100).map(\.json)
        condition.unlock()
        return ok(fd, "[" + batch.joined(separator: ",") + "]")
    }

    private func ok(_ fd: Int32, _ result: String) -> Bool {
        reply(fd, 200, #"{"ok":true,"result":\#(result)}"#)
    }

    private func reply(_ fd: Int32, _ status: Int, _ json: String) -> Bool {
        let body = Array(json.utf8)
        let head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Error")\r\nServer: fake-bot-api\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        return LoopbackHTTP.write(fd, Array(head.utf8) + body)
    }

}
