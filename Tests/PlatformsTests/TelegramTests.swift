import Foundation
import GatewayCore
import GatewayTestSupport
import Logging
import Platforms
import NIOConcurrencyHelpers
import Testing

/// Positions kept in memory, as the state store keeps them on disk.
final class MemoryCursors: PlatformCursorStore, Sendable {
    private let values = NIOLockedValueBox<[String: String]>([:])
    var all: [String: String] { values.withLockedValue { $0 } }
    func cursor(for key: String) async throws(StoreError) -> String? { values.withLockedValue { $0[key] } }
    func setCursor(_ value: String, for key: String) async throws(StoreError) { values.withLockedValue { $0[key] = value } }
}

/// The dispatcher, with `cursors` where the adapter keeps its offset.
final class CursorInbound: InboundHandler, Sendable {
    let dispatcher: Dispatcher
    let cursors: (any PlatformCursorStore)?
    private let recorded = NIOLockedValueBox<[InboundMessage]>([])
    var messages: [InboundMessage] { recorded.withLockedValue { $0 } }

    init(_ dispatcher: Dispatcher, cursors: (any PlatformCursorStore)? = nil) {
        self.dispatcher = dispatcher
        self.cursors = cursors
    }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        recorded.withLockedValue { $0.append(message) }
        await dispatcher.handle(message, replies: replies)
    }

    func isAdmin(_ message: InboundMessage) async -> Bool { await dispatcher.isAdmin(message) }

    func isAllowed(platform: String, sender: String) async -> Bool { await dispatcher.allows(platform: platform, sender: sender) }
}

/// A token file and the adapter's settings for `server`, with a short backoff when asked.
func telegramSettings(_ server: FakeTelegramServer, _ extra: String = "") throws -> TelegramConfiguration {
    let directory = makeTemporaryDirectory("gatewayd-telegram")
    try (server.token + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
    return try TelegramConfiguration.parse("""
        token_file: \(directory)/token
        api_base: "\(server.baseURL)/"
        poll_timeout: 2s
        \(extra)
        """)
}

@Suite("Telegram adapter against a fake Bot API", .timeLimit(.minutes(2)))
struct TelegramTests {
    static let access = #"access: {allowed_users: ["telegram:*"], admins: ["telegram:1001"]}"#

    @Test("a direct message is answered in its chat; /cmd@ourbot is /cmd; /cmd@otherbot and bots' messages are not ours")
    func answersAndCommands() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let dispatcher = await runningDispatcher(Self.access + "\nquick_commands: {up: {type: exec, command: \"echo up\"}}")
        let inbound = CursorInbound(dispatcher)
        let adapter = TelegramAdapter(configuration: try telegramSettings(server))
        try await adapter.start(inbound: inbound)
        server.post("hello")
        server.post("/up@otherbot", from: 1002, chat: -100, group: true)
        server.post("/up@\(FakeTelegramServer.botUsername.uppercased())", from: 1001, chat: -100, group: true)
        server.post("from a bot", from: 77, isBot: true)
        let answered = try await onThread {
            server.waitForSent { $0.count >= 2 }
        }
        #expect(answered)
        await adapter.stop()
        #expect(server.sent.map(\.text).sorted() == ["echo: hello", "up"], "\(server.sent)")
        #expect(server.sent.first { $0.text == "up" }?.chat == -100)
        let messages = inbound.messages
        #expect(messages.map(\.text) == ["hello", "/up"])
        #expect(messages.first?.senderID == "telegram:1001" && messages.first?.chat == "1001" && messages.first?.chatType == .dm)
        #expect(messages.last?.chatType == .group && messages.last?.chat == "-100")
        #expect(await adapter.health().state == .down)
    }

    @Test("a long reply is split at 4096 UTF-16 units, at line breaks or spaces, never inside an emoji")
    func splitsLongReplies() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let inbound = CursorInbound(await runningDispatcher(Self.access))
        let adapter = TelegramAdapter(configuration: try telegramSettings(server))
        try await adapter.start(inbound: inbound)
        // 2,500 emoji (5,000 UTF-16 units, 10,000 UTF-8 bytes) without a space, then words with flags.
        let emoji = String(repeating: "😀", count: 2500)
        let words = (0..<700).map { _ in "a🇩🇪b" }.joined(separator: " ")
        server.post(emoji + "\n" + words)
        let expected = ("echo: " + emoji + words).filter { $0 != " " && $0 != "\n" }
        let done = try await onThread {
            server.waitForSent { $0.map(\.text).joined().filter { $0 != " " && $0 != "\n" }.count >= expected.count }
        }
        #expect(done)
        await adapter.stop()
        let parts = server.sent.map(\.text)
        #expect(parts.allSatisfy { $0.utf16.count <= 4096 && !$0.isEmpty }, "\(parts.map(\.utf16.count))")
        #expect(parts.joined().filter { $0 != " " && $0 != "\n" } == expected, "nothing lost, nothing cut in two")
        #expect(parts.contains(String(repeating: "😀", count: 2048)), "no space or line break: cut between two emoji at 4096 units")
        #expect(parts.last.map { $0.hasPrefix("a🇩🇪b") } == true, "words cut at a space")
        #expect(parts.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") })
    }

    @Test("429 from sendMessage: sent again after retry_after, not dropped")
    func honoursRetryAfter() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        server.rateLimitNextSends(2, retryAfter: 1)
        let inbound = CursorInbound(await runningDispatcher(Self.access))
        let adapter = TelegramAdapter(configuration: try telegramSettings(server))
        try await adapter.start(inbound: inbound)
        server.post("limited")
        let done = try await onThread { server.waitForSent { $0.count >= 1 } }
        await adapter.stop()
        #expect(done)
        #expect(server.sent.map(\.text) == ["echo: limited"])
        let sends = server.requests.filter { $0.method == "sendMessage" }.map(\.at)
        #expect(sends.count == 3)
        if sends.count == 3 {
            #expect(sends[1] - sends[0] >= .seconds(1) && sends[2] - sends[1] >= .seconds(1), "waited retry_after each time")
        }
    }

    @Test("409 Conflict from a second poller (ending the long poll under way): health says so, one journal error, polls again with backoff (no tight loop), recovers")
    func conflict() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let records = LogRecorder()
        let inbound = CursorInbound(await runningDispatcher(Self.access))
        let adapter = TelegramAdapter(configuration: try telegramSettings(server), logger: records.logger())
        try await adapter.start(inbound: inbound)
        await adapter.waitUntilReady(within: .seconds(30))
        #expect(await adapter.health().state == .up)
        let first = try await onThread { server.waitForCalls { $0.filter { $0.method == "getUpdates" }.count >= 2 } }
        #expect(first, "a long poll is under way")
        server.setConflict(true)
        let started = ContinuousClock.now
        // Over the next 3 s: polls at +1 s and +3 s at most (1 s, then 2 s), not hundreds.
        _ = try await onThread { server.waitForCalls(timeout: .seconds(3)) { _ in false } }
        let polls = server.requests.filter { $0.method == "getUpdates" }
        let window = polls.filter { $0.at >= started && $0.at <= started + .seconds(3) }
        #expect(window.count <= 3, "\(window.count) polls in 3 s")
        #expect(polls.count >= 2, "polled again")
        let health = await adapter.health()
        #expect(health == PlatformHealth(.down, GatewayText.telegramConflict))
        #expect(records.messages(event: "telegram_conflict").count == 1, "\(records.all.map(\.message))")
        #expect(records.all.filter { $0.level >= .error }.count == 1)
        server.setConflict(false)
        server.post("after the conflict")
        let answered = try await onThread { server.waitForSent { $0.count >= 1 } }
        #expect(answered)
        #expect(await adapter.health().state == .up)
        await adapter.stop()
        #expect(!records.all.contains { $0.message.contains(server.token) || $0.message.contains(String(server.token.split(separator: ":")[1])) })
    }

    @Test("the offset survives the adapter: updates sent while it was stopped are handled after start, none twice")
    func offsetSurvives() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let cursors = MemoryCursors()
        let settings = try telegramSettings(server)
        // One session, queued in order (the default would let "three" interrupt "two").
        let inbound = CursorInbound(await runningDispatcher(Self.access + "\nbusy_input_mode: queue"), cursors: cursors)
        let first = TelegramAdapter(configuration: settings)
        try await first.start(inbound: inbound)
        let one = server.post("one")
        #expect(try await onThread { server.waitForSent { $0.count >= 1 } })
        await first.stop()
        #expect(cursors.all == ["telegram:\(FakeTelegramServer.botID)": String(one + 1)])
        // Not confirmed to the server yet: the stopped adapter's last poll had the old offset.
        server.post("two")
        server.post("three")
        let second = TelegramAdapter(configuration: settings)
        let before = server.requests.count
        try await second.start(inbound: inbound)
        #expect(try await onThread { server.waitForSent { $0.filter { $0.text.hasPrefix("echo:") }.count >= 3 } })
        await second.stop()
        #expect(server.sent.map(\.text).filter { $0.hasPrefix("echo:") } == ["echo: one", "echo: two", "echo: three"])
        let resumed = server.requests[before...].first { $0.method == "getUpdates" }
        #expect((resumed?.body["offset"] as? NSNumber)?.int64Value == one + 1, "the first poll after the start names the stored offset")
        #expect(inbound.messages.map(\.text) == ["one", "two", "three"])
    }
}

/// Takes messages and never lets them through (a gate that never opens), until `release()`.
final class HoldingInbound: InboundHandler, Sendable {
    let cursors: (any PlatformCursorStore)?
    private let state = NIOLockedValueBox<(held: [CheckedContinuation<Void, Never>], entered: [CheckedContinuation<Void, Never>], count: Int)>(([], [], 0))

    init(cursors: any PlatformCursorStore) { self.cursors = cursors }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await withCheckedContinuation { continuation in
            let entered = state.withLockedValue { state in
                state.held.append(continuation)
                state.count += 1
                defer { state.entered = [] }
                return state.entered
            }
            for waiter in entered { waiter.resume() }
        }
    }

    /// Returns once a message is being held.
    func waitForEntry() async {
        await withCheckedContinuation { continuation in
            let now = state.withLockedValue { state in
                if state.count == 0 { state.entered.append(continuation) }
                return state.count > 0
            }
            if now { continuation.resume() }
        }
    }

    func release() { for held in state.withLockedValue({ $0.held }) { held.resume() } }
}

@Suite("Telegram stop", .timeLimit(.minutes(1)))
struct TelegramStopTests {
    @Test("a stop while a message waits to be taken (the daemon's gate still closed) returns, and stores no offset")
    func stopWhileHeld() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let cursors = MemoryCursors()
        let inbound = HoldingInbound(cursors: cursors)
        let adapter = TelegramAdapter(configuration: try telegramSettings(server))
        try await adapter.start(inbound: inbound)
        server.post("held")
        await inbound.waitForEntry()
        await adapter.stop()
        #expect(cursors.all.isEmpty, "not taken: not confirmed")
        #expect(server.requests.filter { $0.method == "getUpdates" }.count == 1, "no poll confirmed it")
        inbound.release()
    }
}

/// Answers in four parts, as a streaming agent does: three short lines, then a long one.
struct LinesAgent: AgentBackend {
    static let long = String(repeating: "x", count: 4080)
    func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage {
        for line in ["line 1", "line 2", "line 3", Self.long] { await reply(line) }
        return .none
    }
}

@Suite("Telegram edit streaming", .timeLimit(.minutes(1)))
struct TelegramEditStreamingTests {
    @Test("edit_streaming: later parts of a reply edit its first message, until 4096 UTF-16 units; then a new one")
    func editsOneMessage() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let dispatcher = Dispatcher(config: ConfigLoader.parse(TelegramTests.access).config, agent: LinesAgent())
        await dispatcher.markRunning()
        let adapter = TelegramAdapter(configuration: try telegramSettings(server, "edit_streaming: true"))
        try await adapter.start(inbound: CursorInbound(dispatcher))
        server.post("stream please")
        let done = try await onThread { server.waitForSent { $0.contains { $0.text == LinesAgent.long } } }
        await adapter.stop()
        #expect(done)
        #expect(server.sent.map(\.text) == ["line 1\nline 2\nline 3", LinesAgent.long], "\(server.sent)")
        #expect(server.sent.first?.edited == true)
        #expect(server.requests.filter { $0.method == "editMessageText" }.count == 2)
        #expect(server.requests.filter { $0.method == "sendMessage" }.count == 2)
    }
}

@Suite("Telegram settings")
struct TelegramSettingsTests {
    @Test("token_file required (or the credential), control characters refused without showing the token; poll_timeout 1s..50s")
    func settings() throws {
        let directory = makeTemporaryDirectory("gatewayd-telegram-settings")
        try "123:secret\u{7}bell\n".write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
        try "123:good\n".write(toFile: directory + "/good", atomically: true, encoding: .utf8)
        do {
            _ = try TelegramConfiguration.parse("token_file: \(directory)/bad")
            Issue.record("a token with a control character was taken")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.path == "platforms.telegram.token_file")
            #expect(!"\(error.problems)".contains("secret"))
        }
        #expect(throws: ConfigError.self) { try TelegramConfiguration.parse("api_base: http://127.0.0.1:1") }
        for timeout in ["0", "500ms", "51s", "1m"] {
            #expect(throws: ConfigError.self, "\(timeout)") { try TelegramConfiguration.parse("token_file: \(directory)/good\npoll_timeout: \(timeout)") }
        }
        let good = try TelegramConfiguration.parse("""
            token_file: \(directory)/good
            allowed_chats: [1001, -1001234567890]
            edit_streaming: true
            poll_timeout: 50s
            """)
        #expect(good.token.text == "123:good" && good.allowedChats == [1001, -1001234567890] && good.editStreaming)
        #expect(good.pollTimeout == .seconds(50) && good.apiBase == "https://api.telegram.org")
        #expect(throws: ConfigError.self) { try TelegramConfiguration.parse("token_file: \(directory)/good\nallowed_chats: [abc]") }
    }

    @Test("split at UTF-16 units: flags and skin tones stay whole, line breaks first")
    func utf16Split() {
        let text = String(repeating: "👍🏽", count: 10) + "\n" + String(repeating: "🇩🇪", count: 3)
        let parts = ReplySplitter.split(text, maxUTF16: 12)
        #expect(parts.allSatisfy { $0.utf16.count <= 12 })
        #expect(parts.joined() == text.filter { $0 != "\n" })
        #expect(parts.last == String(repeating: "🇩🇪", count: 3))
    }
}
