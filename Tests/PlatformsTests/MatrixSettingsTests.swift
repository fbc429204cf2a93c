import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

@Suite("Matrix settings")
struct MatrixSettingsTests {
    @Test("homeserver, user_id and access_token_file required; ids checked; poll_timeout 1s..120s; reply_msgtype m.notice or m.text")
    func settings() throws {
        let directory = makeTemporaryDirectory("gatewayd-matrix-settings")
        try "syt_secret bad\n".write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
        try "syt_good\n".write(toFile: directory + "/good", atomically: true, encoding: .utf8)
        let base = "homeserver: https://matrix.example.org\nuser_id: \"@bot:example.org\"\n"
        do {
            _ = try MatrixConfiguration.parse(base + "access_token_file: \(directory)/bad")
            Issue.record("a token with a space was taken")
        } catch {
            #expect(error.problems.map(\.path) == ["platforms.matrix.access_token_file"])
            #expect(!"\(error.problems)".contains("secret"))
        }
        do {
            _ = try MatrixConfiguration.parse("rooms: [\"!abc:example.org\"]")
            Issue.record("no homeserver, user or token was taken")
        } catch {
            #expect(Set(error.problems.map(\.path)) == ["platforms.matrix.homeserver", "platforms.matrix.user_id", "platforms.matrix.access_token_file"])
        }
        for bad in ["user_id: bot", "rooms: [general]", "rooms: [\"#ops\"]", "rooms: [\"!\"]", "poll_timeout: 0", "poll_timeout: 121s", "reply_msgtype: m.emote", "homeserver: matrix.org"] {
            #expect(throws: ConfigError.self, "\(bad)") { try MatrixConfiguration.parse(base + "access_token_file: \(directory)/good\n" + bad) }
        }
        let good = try MatrixConfiguration.parse(base + """
            access_token_file: \(directory)/good
            rooms: ["!abc:example.org", "#ops:example.org", "!R6hqO2ljFqyZ3kl5_3Xx8Gnbq3WvRrWPhUOGB4mWNuc"]
            edit_streaming: true
            reply_msgtype: m.text
            poll_timeout: 1m
            """)
        #expect(good.credential == .accessToken(Secret(Array("syt_good".utf8))) && good.rooms == ["!abc:example.org", "#ops:example.org", "!R6hqO2ljFqyZ3kl5_3Xx8Gnbq3WvRrWPhUOGB4mWNuc"] && good.editStreaming)
        #expect(good.replyMessageType == .text && good.pollTimeout == .seconds(60) && good.homeserver == "https://matrix.example.org")
        do {
            _ = try MatrixConfiguration.parse(base + "access_token_file: \(directory)/good\npassword_file: \(directory)/good")
            Issue.record("both a token and a password were taken")
        } catch {
            #expect(error.problems.map(\.path) == ["platforms.matrix.password_file"])
        }
        #expect(try MatrixConfiguration.parse(base + "password_file: \(directory)/good").credential == .password(Secret(Array("syt_good".utf8))))
        let defaults = try MatrixConfiguration.parse(base + "access_token_file: \(directory)/good")
        #expect(defaults.replyMessageType == .notice && !defaults.editStreaming && defaults.pollTimeout == .seconds(30) && defaults.rooms.isEmpty)
    }
}

@Suite("Invites ask the access policy")
struct InviteAccessTests {
    @Test("isAllowed(platform:sender:) through the dispatcher and the daemon's gate follows access.allowed_users; a handler that does not know says no")
    func isAllowed() async {
        let dispatcher = await runningDispatcher(MatrixTests.access("@alice:example.org"))
        let handlers: [any InboundHandler] = [dispatcher, InboundGate(dispatcher)]
        for handler in handlers {
            #expect(await handler.isAllowed(platform: "matrix", sender: "@alice:example.org"))
            #expect(await !handler.isAllowed(platform: "matrix", sender: "@mallory:example.org"))
            #expect(await !handler.isAllowed(platform: "telegram", sender: "@alice:example.org"))
        }
        #expect(await !HoldingInbound(cursors: MemoryCursors()).isAllowed(platform: "matrix", sender: "@alice:example.org"))
    }
}
