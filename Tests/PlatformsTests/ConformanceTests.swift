import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import NIOConcurrencyHelpers
import Testing

/// Records what reaches the dispatcher, then passes it on.
final class RecordingInbound: InboundHandler, Sendable {
    let dispatcher: Dispatcher
    private let recorded = NIOLockedValueBox<[InboundMessage]>([])
    var messages: [InboundMessage] { recorded.withLockedValue { $0 } }

    init(_ dispatcher: Dispatcher) { self.dispatcher = dispatcher }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        recorded.withLockedValue { $0.append(message) }
        await dispatcher.handle(message, replies: replies)
    }

    func isAdmin(_ message: InboundMessage) async -> Bool { await dispatcher.isAdmin(message) }

    func isAllowed(platform: String, sender: String) async -> Bool { await dispatcher.allows(platform: platform, sender: sender) }
}

/// A running dispatcher with the echo agent and the settings of `yaml`.
func runningDispatcher(_ yaml: String) async -> Dispatcher {
    let dispatcher = Dispatcher(config: ConfigLoader.parse(yaml).config, agent: EchoAgent())
    await dispatcher.markRunning()
    return dispatcher
}

/// One adapter under test, driven the way its platform's users drive it.
protocol AdapterHarness {
    var platform: String { get }
    /// `alice` as the platform names her (a Telegram user is a number).
    var user: String { get }
    /// Her direct conversation with the gateway, as the platform names it (her name, but a
    /// Matrix room id).
    var chat: String { get }
    /// `alice` sends `text` in a direct conversation with the gateway; her replies.
    func deliver(_ text: String) async throws -> [String]
    func stop() async
}

struct WebhookHarness: AdapterHarness {
    let platform = "webhook"
    let user = "alice"
    let adapter: WebhookAdapter
    let url: String
    static let secret = Array("conformance".utf8)

    static func start(_ inbound: any InboundHandler) async throws -> WebhookHarness {
        let adapter = WebhookAdapter(configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, secret: secret))
        try await adapter.start(inbound: inbound)
        return WebhookHarness(adapter: adapter, url: "http://127.0.0.1:\(adapter.boundPort!)/webhook")
    }

    func deliver(_ text: String) async throws -> [String] {
        let body = String(decoding: JSONEncoder().encodeObject(["chat": "alice", "user": "alice", "text": text]), as: UTF8.self)
        let signature = "sha256=" + HMACSHA256.hex(HMACSHA256.authenticationCode(for: Array(body.utf8), key: Self.secret))
        let output = try await onThread {
            try run(["/usr/bin/curl", "-sS", "--max-time", "30", "-H", "X-Hub-Signature-256: \(signature)", "--data-binary", body, url])
        }
        let object = try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any]
        return object?["replies"] as? [String] ?? []
    }

    func stop() async { await adapter.stop() }
}

struct IRCHarness: AdapterHarness {
    let platform = "irc"
    let user = "alice"
    let server: IRCServer
    let adapter: IRCAdapter
    let alice: LineClient

    static func start(_ inbound: any InboundHandler) async throws -> IRCHarness {
        let server = try await IRCServer.started()
        let adapter = try IRCAdapter(configuration: IRCConfiguration(host: "127.0.0.1", port: server.port, nick: "gatewayd", channels: []))
        try await adapter.start(inbound: inbound)
        let alice = try await LineClient.registered(port: server.port, "alice")
        await adapter.waitForRegistration()
        return IRCHarness(server: server, adapter: adapter, alice: alice)
    }

    func deliver(_ text: String) async throws -> [String] {
        alice.send("PRIVMSG gatewayd :\(text)")
        let alice = self.alice
        return try await onThread {
            guard let line = alice.waitFor({ $0.contains(" PRIVMSG alice :") }) else { return [] }
            return [String(line[line.range(of: " PRIVMSG alice :")!.upperBound...])]
        }
    }

    func stop() async {
        alice.close()
        await adapter.stop()
        server.stop()
    }
}

struct TelegramHarness: AdapterHarness {
    let platform = "telegram"
    let user = "1001"
    let server: FakeTelegramServer
    let adapter: TelegramAdapter

    static func start(_ inbound: any InboundHandler) async throws -> TelegramHarness {
        let server = try FakeTelegramServer()
        let adapter = TelegramAdapter(configuration: try telegramSettings(server))
        try await adapter.start(inbound: inbound)
        return TelegramHarness(server: server, adapter: adapter)
    }

    func deliver(_ text: String) async throws -> [String] {
        let before = server.sent.count
        server.post(text, from: 1001)
        let server = self.server
        return try await onThread {
            guard server.waitForSent({ $0.count > before }) else { return [] }
            return server.sent[before...].filter { $0.chat == 1001 }.map(\.text)
        }
    }

    func stop() async {
        await adapter.stop()
        server.stop()
    }
}

struct MatrixHarness: AdapterHarness {
    let platform = "matrix"
    let user: String
    let chat: String
    let adapter: MatrixAdapter
    let alice: MatrixTestClient

    /// Alice's account name: her id is in the access settings before she registers.
    static let aliceName = "alice\(getpid())"
    static var aliceID: String { "@\(aliceName):\(SynapseServer.serverName)" }

    static func start(_ inbound: any InboundHandler) async throws -> MatrixHarness {
        let bot = try await MatrixBot.make()
        let alice = try await onThread { try MatrixTestClient(bot.server, name: aliceName) }
        let adapter = MatrixAdapter(configuration: bot.settings)
        try await adapter.start(inbound: inbound)
        await adapter.waitUntilReady(within: .seconds(30))
        let room = try await alice.directRoom(with: bot.userID)
        return MatrixHarness(user: alice.userID, chat: room, adapter: adapter, alice: alice)
    }

    func deliver(_ text: String) async throws -> [String] {
        let before = alice.texts(in: chat, from: adapter.configuration.userID).count
        let all = try await alice.ask(text, in: chat, bot: adapter.configuration.userID) { $0.count > before }
        return Array(all.dropFirst(before))
    }

    func stop() async { await adapter.stop() }
}

extension AdapterHarness {
    var chat: String { user }
}

extension JSONEncoder {
    fileprivate func encodeObject(_ object: [String: String]) -> Data { (try? encode(object)) ?? Data() }
}

@Suite("Adapter conformance: the dispatcher cannot tell platforms apart", .timeLimit(.minutes(1)), .serialized,
       .enabled(if: IRCServer.isAvailable, "ngircd is not installed (.ci/install-deps installs it)"))
struct ConformanceTests {
    enum Kind: String, CaseIterable { case irc, webhook, telegram, matrix }

    static let admin: [Kind: String] = [.irc: "irc:alice!~alice@127.0.0.1", .webhook: "webhook:alice", .telegram: "telegram:1001",
                                        .matrix: "matrix:\(MatrixHarness.aliceID)"]

    @Test("same message, same event, same replies", arguments: Kind.allCases)
    func conformance(_ kind: Kind) async throws {
        // Matrix needs a real Synapse: without it, that case has nothing to run against.
        if kind == .matrix && !SynapseServer.isAvailable { return }
        let dispatcher = await runningDispatcher("""
            quick_commands: {up: {type: exec, command: "echo up"}}
            access: {allowed_users: ["\(kind.rawValue):alice", "telegram:1001", "matrix:\(MatrixHarness.aliceID)"], admins: ["\(Self.admin[kind]!)"]}
            """)
        let inbound = RecordingInbound(dispatcher)
        let harness: any AdapterHarness = switch kind {
        case .irc: try await IRCHarness.start(inbound)
        case .webhook: try await WebhookHarness.start(inbound)
        case .telegram: try await TelegramHarness.start(inbound)
        case .matrix: try await MatrixHarness.start(inbound)
        }
        #expect(try await harness.deliver("hello") == ["echo: hello"])
        #expect(try await harness.deliver("/up") == ["up"], "exec quick commands, admin by the platform's sender id")
        #expect(try await harness.deliver("grüße 🙂") == ["echo: grüße 🙂"])
        let messages = inbound.messages
        #expect(messages.map(\.text) == ["hello", "/up", "grüße 🙂"])
        #expect(messages.allSatisfy {
            $0.platform == harness.platform && $0.user == harness.user && $0.chat == harness.chat && $0.chatType == .dm
                && $0.senderID == "\(harness.platform):\(harness.user)"
                && $0.hostmask == (kind == .irc ? "alice!~alice@127.0.0.1" : nil)
        })
        #expect(Set(messages.map(\.sessionKey)) == ["\(harness.platform):dm:\(harness.chat)"], "one session per direct chat")
        await harness.stop()
    }
}
