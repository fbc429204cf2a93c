import Foundation
import GatewayCore
import GatewayTestSupport
@_spi(Testing) import Platforms
import Testing

/// A dispatcher with the echo agent, an exec quick command, and an IRC adapter on `server`.
private func gateway(_ server: IRCServer, nick: String = "gatewayd", flood: Int = 10, perSecond: Double = 50) async throws -> (IRCAdapter, Dispatcher) {
    let dispatcher = await runningDispatcher("""
        quick_commands: {up: {type: exec, command: "echo up"}, lines: {type: exec, command: "seq 1 8"}}
        access: {allowed_users: ["irc:*"], admins: ["irc:alice!~alice@127.0.0.1"]}
        """)
    let adapter = try IRCAdapter(configuration: IRCConfiguration(
        host: "127.0.0.1", port: server.port, nick: nick, channels: ["#ops"], floodBurst: flood, floodPerSecond: perSecond,
        reconnectMin: .milliseconds(100), reconnectMax: .milliseconds(400)))
    try await adapter.start(inbound: dispatcher)
    return (adapter, dispatcher)
}

/// A person in #ops (registered and joined before the gateway arrives).
private func person(_ server: IRCServer, _ nick: String = "alice") async throws -> LineClient {
    try await LineClient.registered(port: server.port, nick, joining: "#ops")
}

/// Returns once `client` saw `botNick` join #ops: the event itself, no polling of NAMES (each
/// poll would count against the person's flood allowance on the server).
private func sawJoin(_ client: LineClient, _ botNick: String = "gatewayd") async throws {
    if client.namesAtJoin.contains(botNick) { return }  // it was there first
    let line = try await onThread { client.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":\(botNick)!") && $0.contains(" JOIN ") } }
    if line == nil { throw IRCTestError("\(botNick) never joined #ops") }
}

private func privmsgs(_ client: LineClient, to target: String, count: Int) async throws -> [String] {
    try await onThread {
        var texts: [String] = []
        while texts.count < count {
            guard let line = client.waitFor({ $0.contains(" PRIVMSG \(target) :") }) else { break }
            texts.append(String(line[line.range(of: " PRIVMSG \(target) :")!.upperBound...]))
        }
        return texts
    }
}

@Suite("IRC against ngircd", .timeLimit(.minutes(1)), .serialized,
       .enabled(if: IRCServer.isAvailable, "ngircd is not installed (.ci/install-deps installs it)"))
struct IRCTests {
    @Test("joins, answers what is addressed to it in the channel and in private, ignores the rest")
    func answers() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let alice = try await person(server)
        let (adapter, dispatcher) = try await gateway(server)
        try await sawJoin(alice)
        alice.send("PRIVMSG #ops :just chatting")
        alice.send("PRIVMSG #ops :gatewayd: hello there")
        #expect(try await privmsgs(alice, to: "#ops", count: 1) == ["echo: hello there"])
        alice.send("PRIVMSG #ops :!up")
        #expect(try await privmsgs(alice, to: "#ops", count: 1) == ["up"])
        alice.send("PRIVMSG gatewayd :a private word")
        #expect(try await privmsgs(alice, to: "alice", count: 1) == ["echo: a private word"])
        #expect(await adapter.health().state == .up)
        #expect(await dispatcher.sessionSnapshots().map(\.key) == ["irc:dm:alice", "irc:group:#ops"],
                "the channel shares one session (sessions_per_user is off); a DM is per nick")
        alice.close()
        await adapter.stop()
    }

    @Test("an exec quick command is answered while the gateway drains; plain text gets the drain reply")
    func execWhileDraining() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let alice = try await person(server)
        let (adapter, dispatcher) = try await gateway(server)
        try await sawJoin(alice)
        await dispatcher.beginDrain(.stop)
        alice.send("PRIVMSG #ops :!up")
        #expect(try await privmsgs(alice, to: "#ops", count: 1) == ["up"])
        alice.send("PRIVMSG #ops :gatewayd: anyone there?")
        #expect(try await privmsgs(alice, to: "#ops", count: 1) == [GatewayText.draining("shutting down")])
        alice.close()
        await adapter.stop()
    }

    @Test("a long reply is split into lines of at most 400 bytes, no character cut")
    func longReply() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let alice = try await person(server)
        let (adapter, _) = try await gateway(server, flood: 3)
        try await sawJoin(alice)
        // As long as one IRC line lets alice send (512 bytes once the server adds her prefix);
        // the echo is longer.
        let text = (0..<54).map { "wörd\($0)" }.joined(separator: " ")
        #expect(text.utf8.count > 400 && text.utf8.count < 440)
        alice.send("PRIVMSG gatewayd :\(text)")
        let expected = ReplySplitter.split("echo: " + text, maxBytes: 400)
        #expect(expected.count == 2)
        let lines = try await privmsgs(alice, to: "alice", count: expected.count)
        #expect(lines == expected)
        #expect(lines.allSatisfy { $0.utf8.count <= 400 })
        alice.close()
        await adapter.stop()
    }

    @Test("flood control: past the burst, lines go out no faster than the configured rate")
    func floodControl() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let alice = try await person(server)
        let (adapter, _) = try await gateway(server, flood: 2, perSecond: 10)
        try await sawJoin(alice)
        // An eight-line reply: at most two lines (the burst) at once, then 10/s, so the last cannot
        // leave sooner than 0.6 s after the first, whatever the bucket held.
        let sent = ContinuousClock.now
        alice.send("PRIVMSG gatewayd :/lines")
        let lines = try await privmsgs(alice, to: "alice", count: 8)
        let took = ContinuousClock.now - sent
        #expect(lines == (1...8).map(String.init))
        #expect(took >= .milliseconds(550), "paced by the bucket: \(took)")
        alice.close()
        await adapter.stop()
    }

    @Test("the server restarts: the gateway reconnects, rejoins and answers again")
    func reconnects() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let first = try await person(server)
        let (adapter, _) = try await gateway(server)
        try await sawJoin(first)
        let reconnectsBefore = GatewayMetrics.shared.reconnectCount(of: "irc")
        first.send("PRIVMSG #ops :gatewayd: before")
        #expect(try await privmsgs(first, to: "#ops", count: 1) == ["echo: before"])
        first.close()
        server.stop()
        try await server.restart()
        let again = try await person(server)
        try await sawJoin(again)
        #expect(adapter.registrations >= 2)
        #expect(GatewayMetrics.shared.reconnectCount(of: "irc") > reconnectsBefore, "gatewayd_platform_reconnects_total")
        again.send("PRIVMSG #ops :gatewayd: after")
        #expect(try await privmsgs(again, to: "#ops", count: 1) == ["echo: after"])
        again.close()
        await adapter.stop()
    }

    @Test("a taken nick: the gateway registers with a _ and answers to that")
    func nickInUse() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let squatter = try await LineClient.registered(port: server.port, "gatewayd")
        let alice = try await person(server)
        let (adapter, _) = try await gateway(server)
        try await sawJoin(alice, "gatewayd_")
        alice.send("PRIVMSG #ops :gatewayd_: hi")
        #expect(try await privmsgs(alice, to: "#ops", count: 1) == ["echo: hi"])
        #expect(await adapter.health().detail.contains("as gatewayd_"))
        alice.close()
        squatter.close()
        await adapter.stop()
    }
}

@Suite("IRC over TLS against ngircd", .timeLimit(.minutes(1)), .serialized,
       .enabled(if: IRCServer.isAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"),
                "ngircd or openssl is not installed (.ci/install-deps installs them)"))
struct IRCTLSTests {
    @Test("with tls: true and the server's CA, it connects over TLS and answers")
    func tls() async throws {
        let server = try await IRCServer.started(tls: true)
        defer { server.stop() }
        let alice = try await person(server)
        let dispatcher = await runningDispatcher(#"access: {allowed_users: ["irc:*"]}"#)
        let adapter = try IRCAdapter(configuration: IRCConfiguration.reading([
            "server": "localhost:\(server.tlsPort!)", "nick": "gatewayd", "channels": "[\"#ops\"]",
            "tls": "true", "tls_ca_file": server.certificate, "reconnect_min": "100ms", "reconnect_max": "1s",
        ]))
        try await adapter.start(inbound: dispatcher)
        try await sawJoin(alice)
        alice.send("PRIVMSG #ops :gatewayd: over tls")
        #expect(try await privmsgs(alice, to: "#ops", count: 1) == ["echo: over tls"])
        alice.close()
        await adapter.stop()
    }

    @Test("a certificate it does not trust: no connection, and health says why")
    func untrusted() async throws {
        let server = try await IRCServer.started(tls: true)
        defer { server.stop() }
        try IRCServer.makeCertificate(in: server.directory, name: "other")
        let dispatcher = Dispatcher(config: GatewayConfig(), agent: EchoAgent())
        let adapter = try IRCAdapter(configuration: IRCConfiguration.reading([
            "server": "localhost:\(server.tlsPort!)", "nick": "gatewayd",
            "tls": "true", "tls_ca_file": server.directory + "/other.pem", "reconnect_min": "5s",
        ]))
        try await adapter.start(inbound: dispatcher)
        await adapter.waitForFailedConnections(1)
        #expect(adapter.registrations == 0)
        let health = await adapter.health()
        #expect(health.state != .up)
        #expect(adapter.lastConnectionError?.lowercased().contains("certificate_verify_failed") == true,
                "\(adapter.lastConnectionError ?? "nil")")
        await adapter.stop()
        #expect(throws: ConfigError.self) { try IRCAdapter(configuration: IRCConfiguration.reading([
            "server": "localhost:1", "nick": "gw", "tls": "true", "tls_ca_file": "/nonexistent.pem"])) }
    }
}

@Suite("IRC messages")
struct IRCMessageTests {
    @Test("what counts as addressed to the gateway, and how it reaches the dispatcher")
    func addressing() throws {
        func inbound(_ line: String) -> InboundMessage? {
            IRCAdapter.inboundForTesting(line, nick: "gatewayd", prefix: "!")
        }
        #expect(inbound(":alice!a@h PRIVMSG #ops :gatewayd: status?")
            == InboundMessage(platform: "irc", chat: "#ops", chatType: .group, user: "alice", text: "status?", hostmask: "alice!a@h"))
        #expect(inbound(":alice!a@h PRIVMSG #ops :GatewayD, hi")?.text == "hi")
        #expect(inbound(":alice!a@h PRIVMSG #ops :!disk /var")?.text == "/disk /var")
        #expect(inbound(":alice!a@h PRIVMSG #ops :/up")?.text == "/up")
        #expect(inbound(":alice!a@h PRIVMSG #ops :hello all") == nil)
        #expect(inbound(":alice!a@h PRIVMSG #ops :\u{1}ACTION waves\u{1}") == nil)
        #expect(inbound(":alice!a@h PRIVMSG gatewayd :hello")
            == InboundMessage(platform: "irc", chat: "alice", chatType: .dm, user: "alice", text: "hello", hostmask: "alice!a@h"))
        #expect(inbound(":gatewayd!g@h PRIVMSG #ops :gatewayd: echo") == nil, "its own lines")
        #expect(inbound(":GatewayD!g@h PRIVMSG #ops :gatewayd: echo") == nil, "its own lines, whatever the case")
        #expect(inbound("@account=alice :alice!a@h PRIVMSG gatewayd :hi")?.account == "alice")
        #expect(inbound("@account=al\\sice :alice!a@h PRIVMSG gatewayd :hi")?.account == "al ice", "tag escapes: \\s is a space")
        #expect(inbound("@+account=alice :alice!a@h PRIVMSG gatewayd :hi")?.account == nil, "a client's own tag is not the server's word")
        #expect(IRCAdapter.inboundForTesting("@account=alice :alice!a@h PRIVMSG gatewayd :hi", nick: "gatewayd", prefix: "!",
                                             accountTags: false)?.account == nil, "without the capability the tag is not trusted")
        #expect(inbound(":alice PRIVMSG gatewayd :hi")?.hostmask == nil, "no full prefix, no mask to match")
        #expect(inbound(":alice!a@h PRIVMSG #bad\rchan :gatewayd: hi") == nil, "a channel that could not be answered safely")
    }

    @Test("settings: sessions per channel unless sessions_per_user; bad values are config errors")
    func settings() throws {
        let base = ["server": "irc.example.net:6667", "nick": "gw", "channels": "[\"#ops\", \"#dev\"]"]
        let plain = try IRCConfiguration.reading(base)
        #expect(plain.channels == ["#ops", "#dev"])
        #expect(!plain.sessionsPerUser)
        #expect(try IRCConfiguration.reading(base.merging(["sessions_per_user": "true"]) { $1 }).sessionsPerUser)
        #expect(throws: ConfigError.self) { try IRCConfiguration.reading(base.merging(["sessions_per_user": "maybe"]) { $1 }) }
        #expect(throws: ConfigError.self) { try IRCConfiguration.reading(base.merging(["server": "nowhere"]) { $1 }) }
        #expect(throws: ConfigError.self) { try IRCConfiguration.reading(base.merging(["reconnect_min": "soon"]) { $1 }) }
        var shared = InboundMessage(platform: "irc", chat: "#ops", chatType: .group, user: "alice", text: "x", sessionPerUser: false)
        #expect(shared.sessionKey == "irc:group:#ops")
        shared.sessionPerUser = true
        #expect(shared.sessionKey == "irc:group:#ops:alice")
    }
}
