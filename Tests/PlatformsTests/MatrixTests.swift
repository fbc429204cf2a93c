import Foundation
import GatewayCore
import GatewayTestSupport
import Logging
import Platforms
import Testing

/// The bot's account on a `SynapseServer`, and the adapter's settings for it.
struct MatrixBot {
    let server: SynapseServer
    let account: MatrixTestClient
    let settings: MatrixConfiguration
    var userID: String { account.userID }

    /// A new bot account on `server` (the shared one when nil), its token in a file.
    static func make(_ server: SynapseServer? = nil, _ extra: String = "") async throws -> MatrixBot {
        let server = if let server { server } else { try await SynapseServer.sharedServer() }
        let account = try await onThread { try MatrixTestClient(server, name: server.uniqueName("bot")) }
        let directory = makeTemporaryDirectory("gatewayd-matrix")
        try (account.accessToken + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        var settings = try MatrixConfiguration.parse("""
            homeserver: "\(server.baseURL)/"
            user_id: "\(account.userID)"
            access_token_file: \(directory)/token
            poll_timeout: 2s
            \(extra)
            """)
        settings.backoffMin = .milliseconds(100)
        settings.backoffMax = .seconds(1)
        return MatrixBot(server: server, account: account, settings: settings)
    }

    /// A person on the same server.
    func person(_ name: String) async throws -> MatrixTestClient {
        let server = self.server
        return try await onThread { try MatrixTestClient(server, name: server.uniqueName(name)) }
    }
}

extension MatrixTestClient {
    /// A direct room with the bot, once the bot joined it (an allowed inviter's invite).
    func directRoom(with bot: String) async throws -> String {
        try await onThread {
            let room = try self.createRoom(invite: [bot], direct: true)
            guard try self.waitFor({ _ in self.hasJoined(bot, room) }) else { throw SynapseError("\(bot) did not join \(room)") }
            return room
        }
    }

    /// Sends `text` to `room`, then syncs until the bot's messages there (edits applied) satisfy `condition`.
    func ask(_ text: String?, in room: String, bot: String, until condition: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        try await onThread {
            if let text { try self.send(text, to: room) }
            _ = try self.waitFor { _ in condition(self.texts(in: room, from: bot)) }
            return self.texts(in: room, from: bot)
        }
    }
}

@Suite("Matrix adapter against a real Synapse", .timeLimit(.minutes(3)), .serialized,
       .enabled(if: SynapseServer.isAvailable, Comment(rawValue: SynapseServer.unavailableReason ?? "")))
struct MatrixTests {
    static func access(_ user: String) -> String {
        #"access: {allowed_users: ["matrix:\#(user)"], admins: ["matrix:\#(user)"]}"# + "\nbusy_input_mode: queue"
    }

    @Test("a DM (invite, then joined) and a group room are answered as m.notice; 2 members is dm, 3 is group; /cmd runs; the bot's own and edited messages are not answered")
    func answersInRoomsAndDMs() async throws {
        let bot = try await MatrixBot.make()
        let alice = try await bot.person("alice"), carol = try await bot.person("carol")
        let dispatcher = await runningDispatcher(Self.access(alice.userID) + "\nquick_commands: {up: {type: exec, command: \"echo up\"}}")
        let inbound = CursorInbound(dispatcher, cursors: MemoryCursors())
        let adapter = MatrixAdapter(configuration: bot.settings)
        try await adapter.start(inbound: inbound)
        await adapter.waitUntilReady(within: .seconds(30))
        #expect(await adapter.health() == PlatformHealth(.up, "syncing as \(bot.userID)"))

        let dm = try await alice.directRoom(with: bot.userID)
        try await onThread { try alice.send("another bot's notice", to: dm, msgtype: "m.notice") }
        #expect(try await alice.ask("hello", in: dm, bot: bot.userID) { $0.count >= 1 } == ["echo: hello"])
        #expect(alice.events.last { $0.sender == bot.userID }?.msgtype == "m.notice")
        // A reply with no request waiting (the ledger's, after a restart): to the room by its id.
        try await adapter.send("sent later", to: dm)
        #expect(try await alice.ask(nil, in: dm, bot: bot.userID) { $0.count >= 2 } == ["echo: hello", "sent later"])
        await #expect(throws: DeliveryFailure.self) { try await adapter.send("nowhere", to: "@alice:test.local") }

        let group = try await onThread {
            let room = try alice.createRoom(invite: [bot.userID, carol.userID])
            try carol.join(room)
            _ = try alice.waitFor { _ in alice.hasJoined(bot.userID, room) && alice.hasJoined(carol.userID, room) }
            return room
        }
        let edited = try await onThread {
            let id = try alice.send("typo", to: group)
            _ = try MatrixTestClient.call(alice.server, "PUT", "/rooms/\(group.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)/send/m.room.message/edit1",
                                          token: alice.accessToken,
                                          ["msgtype": "m.text", "body": "* fixed", "m.new_content": ["msgtype": "m.text", "body": "fixed"],
                                           "m.relates_to": ["rel_type": "m.replace", "event_id": id]])
            return id
        }
        #expect(!edited.isEmpty)
        #expect(try await alice.ask("/up", in: group, bot: bot.userID) { $0.count >= 2 } == ["echo: typo", "up"])
        await adapter.stop()

        let messages = inbound.messages
        #expect(messages.map(\.text) == ["hello", "typo", "/up"], "edits are not new messages")
        #expect(messages.first.map { $0.chat == dm && $0.chatType == .dm && $0.senderID == "matrix:\(alice.userID)" } == true)
        #expect(messages.last.map { $0.chat == group && $0.chatType == .group && $0.user == alice.userID } == true)
        #expect(await adapter.health().state == .down)
    }

    @Test("an invite from a sender who is not allowed is rejected; an encrypted room is refused with one journal line and not answered")
    func invitesAndEncryption() async throws {
        let bot = try await MatrixBot.make()
        let alice = try await bot.person("alice"), stranger = try await bot.person("stranger")
        let records = LogRecorder()
        let inbound = CursorInbound(await runningDispatcher(Self.access(alice.userID)), cursors: MemoryCursors())
        let adapter = MatrixAdapter(configuration: bot.settings, logger: records.logger())
        try await adapter.start(inbound: inbound)
        await adapter.waitUntilReady(within: .seconds(30))
        let botID = bot.userID

        let rejected = try await onThread {
            let room = try stranger.createRoom(invite: [botID], direct: true)
            return try stranger.waitFor { events in events.contains { $0.room == room && $0.stateKey == botID && $0.membership == "leave" } }
        }
        #expect(rejected, "the stranger's invite was rejected")
        let encryptedInvite = try await onThread {
            let room = try alice.createRoom(invite: [botID], encrypted: true)
            return try alice.waitFor { events in events.contains { $0.room == room && $0.stateKey == botID && $0.membership == "leave" } }
        }
        #expect(encryptedInvite, "an invite to an encrypted room is rejected")
        // A room that turns encryption on after the bot joined it: not answered.
        let room = try await alice.directRoom(with: botID)
        #expect(try await alice.ask("before", in: room, bot: botID) { $0.count >= 1 } == ["echo: before"])
        try await onThread {
            _ = try MatrixTestClient.call(alice.server, "PUT",
                                          "/rooms/\(room.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)/state/m.room.encryption/",
                                          token: alice.accessToken, ["algorithm": "m.megolm.v1.aes-sha2"])
            try alice.send("secret 1", to: room)
            try alice.send("secret 2", to: room)
        }
        // Answered after the encrypted room's messages were seen: a plain room's message.
        let plain = try await alice.directRoom(with: botID)
        #expect(try await alice.ask("after", in: plain, bot: botID) { $0.count >= 1 } == ["echo: after"])
        await adapter.stop()
        #expect(alice.texts(in: room, from: botID) == ["echo: before"])
        #expect(inbound.messages.map(\.text) == ["before", "after"])
        #expect(records.messages(event: "matrix_encrypted_room").count == 2, "one line per room: \(records.all.map(\.message))")
        #expect(records.messages(event: "matrix_invite_refused").count == 2)
        #expect(records.all.filter { $0.level >= .error }.isEmpty)
        #expect(!records.all.contains { $0.message.contains(bot.account.accessToken) })
    }

    @Test("the since token survives the adapter: history before the first start is not answered, messages sent while it was stopped are answered once, none twice after another restart")
    func sinceSurvives() async throws {
        let bot = try await MatrixBot.make()
        let alice = try await bot.person("alice")
        let cursors = MemoryCursors()
        let inbound = CursorInbound(await runningDispatcher(Self.access(alice.userID)), cursors: cursors)
        let botID = bot.userID
        // Joined before the adapter ever ran, with a message waiting: history, not answered.
        let room = try await onThread {
            let room = try alice.createRoom(invite: [botID], direct: true)
            try bot.account.join(room)
            try alice.send("old", to: room)
            return room
        }
        let first = MatrixAdapter(configuration: bot.settings)
        try await first.start(inbound: inbound)
        await first.waitUntilReady(within: .seconds(30))
        #expect(try await alice.ask("one", in: room, bot: botID) { $0.count >= 1 } == ["echo: one"])
        await first.stop()
        #expect(cursors.all.keys.sorted() == ["matrix:\(botID)"])

        try await onThread {
            try alice.send("two", to: room)
            try alice.send("three", to: room)
        }
        let second = MatrixAdapter(configuration: bot.settings)
        try await second.start(inbound: inbound)
        // (A queued message is told so: only the echoes count.)
        let echoes: @Sendable ([String]) -> [String] = { $0.filter { $0.hasPrefix("echo:") } }
        let resumed = try await alice.ask(nil, in: room, bot: botID) { echoes($0).count >= 3 }
        #expect(echoes(resumed) == ["echo: one", "echo: two", "echo: three"])
        await second.stop()

        let third = MatrixAdapter(configuration: bot.settings)
        try await third.start(inbound: inbound)
        await third.waitUntilReady(within: .seconds(30))
        let all = try await alice.ask("four", in: room, bot: botID) { echoes($0).count >= 4 }
        #expect(echoes(all) == ["echo: one", "echo: two", "echo: three", "echo: four"])
        await third.stop()
        #expect(inbound.messages.map(\.text) == ["one", "two", "three", "four"])
    }

    @Test("rooms: joined at start by alias, without an invite, and answered there")
    func joinsConfiguredRooms() async throws {
        let probe = try await MatrixBot.make()
        let alice = try await probe.person("alice")
        let alias = probe.server.uniqueName("ops")
        let room = try await onThread { try alice.createRoom(publicAlias: alias) }
        let bot = try await MatrixBot.make(probe.server, "rooms: [\"#\(alias):\(SynapseServer.serverName)\"]")
        let adapter = MatrixAdapter(configuration: bot.settings)
        try await adapter.start(inbound: CursorInbound(await runningDispatcher(Self.access(alice.userID))))
        await adapter.waitUntilReady(within: .seconds(30))
        #expect(try await onThread { try alice.waitFor { _ in alice.hasJoined(bot.userID, room) } })
        let replies = try await alice.ask("hello ops", in: room, bot: bot.userID) { $0.count >= 1 }
        await adapter.stop()
        #expect(replies == ["echo: hello ops"])
    }

    @Test("while draining: an exec quick command is answered, plain text is refused")
    func quickCommandWhileDraining() async throws {
        let bot = try await MatrixBot.make()
        let alice = try await bot.person("alice")
        let dispatcher = await runningDispatcher(Self.access(alice.userID) + "\nquick_commands: {up: {type: exec, command: \"echo up\"}}")
        let adapter = MatrixAdapter(configuration: bot.settings)
        try await adapter.start(inbound: CursorInbound(dispatcher))
        await adapter.waitUntilReady(within: .seconds(30))
        let room = try await alice.directRoom(with: bot.userID)
        #expect(await dispatcher.beginDrain(.admin))
        let replies = try await alice.ask("/up", in: room, bot: bot.userID) { $0.count >= 1 }
        let refused = try await alice.ask("hello", in: room, bot: bot.userID) { $0.count >= 2 }
        await adapter.stop()
        #expect(replies == ["up"])
        #expect(refused.last?.contains("draining") == true, "\(refused)")
    }

    @Test("a long reply is split at 16 KiB of UTF-8, at line breaks, nothing lost; reply_msgtype m.text")
    func splitsLongReplies() async throws {
        let bot = try await MatrixBot.make(nil, "reply_msgtype: m.text")
        let alice = try await bot.person("alice")
        let adapter = MatrixAdapter(configuration: bot.settings)
        try await adapter.start(inbound: CursorInbound(await runningDispatcher(Self.access(alice.userID))))
        await adapter.waitUntilReady(within: .seconds(30))
        let room = try await alice.directRoom(with: bot.userID)
        let text = (0..<400).map { "line \($0): " + String(repeating: "ü", count: 40) }.joined(separator: "\n")  // ~36 KB
        let parts = try await alice.ask(text, in: room, bot: bot.userID) { $0.joined(separator: "\n").count >= text.count + 6 }
        await adapter.stop()
        #expect(parts.count == 3, "\(parts.map(\.utf8.count))")
        #expect(parts.allSatisfy { $0.utf8.count <= MatrixConfiguration.Defaults.maxMessageBytes })
        #expect(parts.joined(separator: "\n") == "echo: " + text, "cut at line breaks, nothing lost")
        #expect(alice.events.filter { $0.sender == bot.userID && $0.type == "m.room.message" }.allSatisfy { $0.msgtype == "m.text" })
    }

    @Test("M_LIMIT_EXCEEDED (the bot's messages limited to 1/s, no burst): the reply waits retry_after_ms and is sent, not dropped")
    func honoursRateLimits() async throws {
        let bot = try await MatrixBot.make()
        let server = bot.server
        try await onThread { try server.limitMessages(of: bot.userID, perSecond: 1, burst: 1) }
        let alice = try await bot.person("alice")
        let records = LogRecorder()
        let adapter = MatrixAdapter(configuration: bot.settings, logger: records.logger())
        try await adapter.start(inbound: CursorInbound(await runningDispatcher(Self.access(alice.userID))))
        await adapter.waitUntilReady(within: .seconds(30))
        let room = try await alice.directRoom(with: bot.userID)
        // One message whose echo is 4 parts, sent as fast as the adapter may: past the limit.
        let text = (0..<4).map { String(repeating: "\($0)", count: 12_000) }.joined(separator: "\n")
        let parts = try await alice.ask(text, in: room, bot: bot.userID) { $0.count >= 4 }
        await adapter.stop()
        #expect(parts.joined(separator: "\n") == "echo: " + text)
        #expect(!records.messages(event: "matrix_rate_limited").isEmpty, "\(records.all.map(\.message))")
        #expect(records.messages(event: "matrix_send_failed").isEmpty)
    }

    @Test("a refused access token: health down with what to do, one journal error")
    func unknownToken() async throws {
        let bot = try await MatrixBot.make()
        var settings = bot.settings
        settings.credential = .accessToken(Secret(Array("syt_not_a_token".utf8)))
        let records = LogRecorder()
        let adapter = MatrixAdapter(configuration: settings, logger: records.logger())
        try await adapter.start(inbound: CursorInbound(await runningDispatcher("")))
        let down = try await onThread {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, records.messages(event: "matrix_unknown_token").isEmpty { usleep(20_000) }
            return !records.messages(event: "matrix_unknown_token").isEmpty
        }
        #expect(down)
        #expect(await adapter.health() == PlatformHealth(.down, GatewayText.matrixUnknownToken))
        await adapter.stop()
        #expect(records.messages(event: "matrix_unknown_token").count == 1)
        #expect(!records.all.contains { $0.message.contains("syt_not_a_token") })
    }
}

@Suite("Matrix password login against a real Synapse", .timeLimit(.minutes(2)),
       .enabled(if: SynapseServer.isAvailable, Comment(rawValue: SynapseServer.unavailableReason ?? "")))
struct MatrixPasswordLoginTests {
    /// The bot's sessions (devices) on the homeserver, asked with `token`.
    static func devices(_ server: SynapseServer, token: String) throws -> Int {
        (try MatrixTestClient.call(server, "GET", "/devices", token: token, nil)["devices"] as? [Any])?.count ?? -1
    }

    @Test("password_file: the first start logs in and keeps the token in state.db, the next reuses it (no new session), a revoked one means a new login; neither is logged")
    func passwordLogin() async throws {
        let server = try await SynapseServer.sharedServer()
        let name = server.uniqueName("pwbot")
        let account = try await onThread { try MatrixTestClient(server, name: name) }
        let alice = try await onThread { try MatrixTestClient(server, name: server.uniqueName("alice")) }
        let directory = makeTemporaryDirectory("gatewayd-matrix-password")
        try "pw-\(name)\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        var settings = try MatrixConfiguration.parse("""
            homeserver: "\(server.baseURL)"
            user_id: "\(account.userID)"
            password_file: \(directory)/password
            poll_timeout: 2s
            """)
        settings.backoffMin = .milliseconds(100)
        let cursors = MemoryCursors()
        let records = LogRecorder()
        let inbound = CursorInbound(await runningDispatcher(MatrixTests.access(alice.userID)), cursors: cursors)
        let key = "matrix:\(account.userID):access_token"
        let registered = account.accessToken

        let first = MatrixAdapter(configuration: settings, logger: records.logger())
        try await first.start(inbound: inbound)
        await first.waitUntilReady(within: .seconds(30))
        await first.stop()
        let kept = try #require(cursors.all[key])
        #expect(kept != registered)
        #expect(try await onThread { try Self.devices(server, token: registered) } == 2, "registration's session and the login's")

        let second = MatrixAdapter(configuration: settings, logger: records.logger())
        try await second.start(inbound: inbound)
        await second.waitUntilReady(within: .seconds(30))
        await second.stop()
        #expect(cursors.all[key] == kept, "reused")
        #expect(try await onThread { try Self.devices(server, token: registered) } == 2, "no new session")

        try await onThread { _ = try MatrixTestClient.call(server, "POST", "/logout", token: kept, [:]) }
        let third = MatrixAdapter(configuration: settings, logger: records.logger())
        try await third.start(inbound: inbound)
        await third.waitUntilReady(within: .seconds(30))
        let room = try await alice.directRoom(with: account.userID)
        let replies = try await alice.ask("hello", in: room, bot: account.userID) { $0.count >= 1 }
        await third.stop()
        #expect(replies == ["echo: hello"])
        let renewed = try #require(cursors.all[key])
        #expect(renewed != kept, "a new login after the kept token was refused")
        #expect(records.messages(event: "matrix_logged_in").count == 2)
        #expect(!records.all.contains { $0.message.contains("pw-\(name)") || $0.message.contains(kept) || $0.message.contains(renewed) })
    }
}

/// Answers in four parts, as a streaming agent does: three short lines, then one that does not
/// fit in the same Matrix message.
struct MatrixLinesAgent: AgentBackend {
    /// With the three short lines, past `Defaults.maxMessageBytes`.
    static let long = String(repeating: "y", count: MatrixConfiguration.Defaults.maxMessageBytes - 10)
    func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage {
        for line in ["line 1", "line 2", "line 3", Self.long] { await reply(line) }
        return .none
    }
}

@Suite("Matrix edit streaming against a real Synapse", .timeLimit(.minutes(2)),
       .enabled(if: SynapseServer.isAvailable, Comment(rawValue: SynapseServer.unavailableReason ?? "")))
struct MatrixEditStreamingTests {
    @Test("edit_streaming: later parts of a reply edit its first message (m.replace) until 16 KiB; then a new one")
    func editsOneMessage() async throws {
        let bot = try await MatrixBot.make(nil, "edit_streaming: true")
        let alice = try await bot.person("alice")
        let dispatcher = Dispatcher(config: ConfigLoader.parse(MatrixTests.access(alice.userID)).config, agent: MatrixLinesAgent())
        await dispatcher.markRunning()
        let adapter = MatrixAdapter(configuration: bot.settings)
        try await adapter.start(inbound: CursorInbound(dispatcher))
        await adapter.waitUntilReady(within: .seconds(30))
        let room = try await alice.directRoom(with: bot.userID)
        let texts = try await alice.ask("stream please", in: room, bot: bot.userID) { $0.last == MatrixLinesAgent.long }
        await adapter.stop()
        #expect(texts.first == "line 1\nline 2\nline 3" && texts.count == 2, "\(texts.map(\.count))")
        #expect(texts.last == MatrixLinesAgent.long)
        let mine = alice.events.filter { $0.sender == bot.userID && $0.type == "m.room.message" }
        #expect(mine.filter { $0.replaces != nil }.count == 2, "two edits")
        #expect(mine.filter { $0.replaces == nil }.count == 2, "two messages")
    }
}
