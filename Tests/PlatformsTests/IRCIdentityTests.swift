import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

/// An exec quick command `slow` that says it started, then waits for the test's go.
private struct SlowCommand {
    let started = FIFOSignal()
    let gate = FIFOSignal()
    var yaml: String { #"slow: {type: exec, command: "echo started > \#(started.path); read x < \#(gate.path); echo secret output"}"# }
}

@Suite("IRC identities: accounts, masks, SASL, and replies that follow the person", .timeLimit(.minutes(1)), .serialized)
struct IRCIdentityTests {
    @Test("CAP LS 302 and SASL PLAIN from the password file; an account-tagged message is an admin's, the same nick without the tag is not")
    func saslAndAccountTag() async throws {
        let directory = makeTemporaryDirectory("gatewayd-sasl")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "s3cret\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        let dispatcher = await runningDispatcher("""
            quick_commands: {up: {type: exec, command: "echo up"}}
            access: {allowed_users: ["irc:*"], admins: ["irc:~alice"]}
            """)
        let peer = try ScriptedIRCPeer()
        let adapter = try IRCAdapter(configuration: IRCConfiguration.reading([
            "server": "127.0.0.1:\(peer.port)", "nick": "gatewayd", "sasl_user": "gwbot", "sasl_password_file": directory + "/password",
        ]))
        try await adapter.start(inbound: dispatcher)
        let expectedPayload = Data("gwbot\u{0}gwbot\u{0}s3cret".utf8).base64EncodedString()
        try await onThread {
            try peer.accept()
            try peer.expectNext("CAP LS :302")
            try peer.expectNext("NICK :gatewayd")
            try peer.expectNext("USER gatewayd 0 * :gatewayd")
            peer.send(":irc.test CAP * LS * :multi-prefix account-notify", ":irc.test CAP * LS :account-tag extended-join sasl=EXTERNAL,PLAIN")
            try peer.expectNext("CAP REQ :account-tag extended-join account-notify sasl")
            peer.send(":irc.test CAP * ACK :account-tag extended-join account-notify sasl")
            try peer.expectNext("AUTHENTICATE :PLAIN")
            peer.send("AUTHENTICATE +")
            try peer.expectNext("AUTHENTICATE :\(expectedPayload)")
            peer.send(":irc.test 900 * gatewayd!gw@h gwbot :You are now logged in as gwbot", ":irc.test 903 * :SASL authentication successful")
            try peer.expectNext("CAP :END")
            peer.send(":irc.test 001 gatewayd :Welcome")
        }
        await adapter.waitForRegistration()
        #expect(await adapter.health().detail.contains("logged in as gwbot"))

        peer.send("@account=alice;time=2026-01-01T00:00:00.000Z :alice!a@host PRIVMSG gatewayd :/up")
        try await onThread {
            // An admin's private reply goes only once the server confirms who holds the nick.
            try peer.answerWhois("alice", user: "a", host: "host", account: "alice")
            try peer.expect("the admin's reply") { $0 == "PRIVMSG alice :up" }
        }
        for line in [":alice!a@host PRIVMSG gatewayd :/up", "@+account=alice :alice!a@host PRIVMSG gatewayd :/up"] {
            peer.send(line)
            let seen = try await onThread { try peer.expect("the refusal") { $0.hasPrefix("PRIVMSG alice :") } }
            #expect(seen.last == "PRIVMSG alice :\(GatewayText.adminOnly("up"))", "\(line): no account tag from the server, no admin")
        }
        await adapter.stop(flushingWithin: .seconds(1))
    }

    @Test("SASL refused (904), or not offered: the connection fails with the reason and no password is sent unasked")
    func saslFailures() async throws {
        let directory = makeTemporaryDirectory("gatewayd-sasl")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "s3cret".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        let peer = try ScriptedIRCPeer()
        let adapter = try IRCAdapter(configuration: IRCConfiguration.reading([
            "server": "127.0.0.1:\(peer.port)", "nick": "gatewayd", "sasl_user": "gwbot", "sasl_password_file": directory + "/password",
            "reconnect_min": "50ms",
        ]))
        try await adapter.start(inbound: CannedReplies(replies: []))
        try await onThread {
            try peer.accept()
            try peer.expect("USER") { $0.hasPrefix("USER ") }
            peer.send(":irc.test CAP * LS :sasl=PLAIN")
            try peer.expect("CAP REQ") { $0 == "CAP REQ :sasl" }
            peer.send(":irc.test CAP * ACK :sasl")
            try peer.expect("AUTHENTICATE PLAIN") { $0 == "AUTHENTICATE :PLAIN" }
            peer.send("AUTHENTICATE +")
            try peer.expect("the payload") { $0.hasPrefix("AUTHENTICATE :") }
            peer.send(":irc.test 904 gatewayd :SASL authentication failed")
        }
        await adapter.waitForFailedConnections(1)
        #expect(adapter.lastConnectionError?.contains("904") == true, "\(adapter.lastConnectionError ?? "nil")")
        try await onThread {
            try peer.accept()
            try peer.expect("USER") { $0.hasPrefix("USER ") }
            peer.send(":irc.test CAP * LS :multi-prefix")
        }
        await adapter.waitForFailedConnections(2)
        #expect(adapter.lastConnectionError?.contains("offers no SASL PLAIN") == true, "\(adapter.lastConnectionError ?? "nil")")
        #expect(!String(decoding: peer.received, as: UTF8.self).contains("AUTHENTICATE"), "nothing to a server that did not offer SASL")
        #expect(adapter.registrations == 0)
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("the nick changes hands while an admin's command runs: its output is withheld, the new holder gets only their own reply")
    func nickChangesHands() async throws {
        let slow = SlowCommand()
        let dispatcher = await runningDispatcher("""
            quick_commands: {\(slow.yaml)}
            access: {allowed_users: ["irc:*"], admins: ["irc:~alice"]}
            """)
        let peer = try ScriptedIRCPeer()
        let adapter = try IRCAdapter(configuration: IRCConfiguration(
            host: "127.0.0.1", port: peer.port, nick: "gatewayd", channels: [], floodBurst: 100, floodPerSecond: 100))
        try await adapter.start(inbound: dispatcher)
        let asked = try await onThread {
            try peer.accept()
            return try peer.negotiate("account-tag account-notify")
        }
        #expect(asked == "account-tag account-notify", "only what the server offers")
        await adapter.waitForRegistration()
        peer.send("@account=alice :alice!a@host PRIVMSG gatewayd :/slow")
        #expect(await slow.started.waitForLine() == "started")
        peer.send(":alice!a@host NICK :alice_away", ":mallory!m@evil NICK :alice", "PING :sync")
        // The PONG says the gateway has read the NICK lines (it reads in order).
        try await onThread { try peer.expect("PONG") { $0 == "PONG :sync" } }
        slow.gate.send("go")
        #expect(await adapter.waitForWithheldLines(1, within: .seconds(15)), "the reply was withheld")
        peer.send(":alice!m@evil PRIVMSG gatewayd :hi")
        let seen = try await onThread { try peer.expect("the new holder's own reply") { $0.hasPrefix("PRIVMSG alice :") } }
        #expect(seen.last == "PRIVMSG alice :echo: hi")
        #expect(!seen.contains { $0.contains("secret") || $0.hasPrefix("WHOIS") }, "\(seen)")
        await adapter.stop(flushingWithin: .seconds(1))
    }
}

@Suite("IRC identities against ngircd", .timeLimit(.minutes(1)), .serialized,
       .enabled(if: IRCServer.isAvailable, "ngircd is not installed (.ci/install-deps installs it)"))
struct IRCMaskTests {
    static let yaml = """
        access: {allowed_users: ["irc:*"], admins: ["irc:alice!~alice@127.0.0.1"]}
        """

    private func gateway(_ server: IRCServer, commands: String = #"up: {type: exec, command: "echo up"}"#) async throws -> IRCAdapter {
        let dispatcher = await runningDispatcher("quick_commands: {\(commands)}\n" + Self.yaml)
        let adapter = try IRCAdapter(configuration: IRCConfiguration(host: "127.0.0.1", port: server.port, nick: "gatewayd", channels: []))
        try await adapter.start(inbound: dispatcher)
        await adapter.waitForRegistration()
        return adapter
    }

    private func ask(_ client: LineClient, _ text: String, as nick: String) async throws -> String? {
        client.send("PRIVMSG gatewayd :\(text)")
        return try await onThread {
            client.waitFor { $0.contains(" PRIVMSG \(nick) :") }.map { String($0[$0.range(of: " PRIVMSG \(nick) :")!.upperBound...]) }
        }
    }

    private func quit(_ client: LineClient) async throws {
        client.send("QUIT :bye")
        _ = try await onThread { client.waitFor { $0.hasPrefix("ERROR") } }
        client.close()
    }

    @Test("admins by mask: alice is one; mallory, who takes the nick after she left, is not")
    func maskNotNick() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let adapter = try await gateway(server)
        let alice = try await LineClient.registered(port: server.port, "alice", user: "alice")
        #expect(try await ask(alice, "/up", as: "alice") == "up")
        #expect(try await ask(alice, "/whoami", as: "alice")?.hasSuffix("(admin: exec quick commands and /restart).") == true)
        try await quit(alice)
        let mallory = try await LineClient.registered(port: server.port, "alice", user: "mallory")
        #expect(try await ask(mallory, "/up", as: "alice") == GatewayText.adminOnly("up"))
        #expect(try await ask(mallory, "/whoami", as: "alice") == "You are irc:alice.")
        mallory.close()
        await adapter.stop()
    }

    @Test("alice leaves while her command runs and mallory takes the nick: WHOIS shows another user, the output is withheld")
    func whoisWithholds() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let slow = SlowCommand()
        let adapter = try await gateway(server, commands: slow.yaml)
        let alice = try await LineClient.registered(port: server.port, "alice", user: "alice")
        alice.send("PRIVMSG gatewayd :/slow")
        #expect(await slow.started.waitForLine() == "started")
        try await quit(alice)
        let mallory = try await LineClient.registered(port: server.port, "alice", user: "mallory")
        slow.gate.send("go")
        #expect(await adapter.waitForWithheldLines(1, within: .seconds(15)), "the reply was withheld")
        #expect(try await ask(mallory, "hi", as: "alice") == "echo: hi", "the first line mallory gets is her own reply")
        mallory.close()
        await adapter.stop()
    }
}
