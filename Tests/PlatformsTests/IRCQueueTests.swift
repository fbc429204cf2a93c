import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

/// Admin is `boss` (by nick, for this test only): everyone gets a one-line reply.
private struct AdminByNick: InboundHandler {
    func isAdmin(_ message: InboundMessage) async -> Bool { message.user == "boss" }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await replies.send("for \(message.user)")
    }
}

@Suite("IRC outgoing queue: bounded, admins first", .timeLimit(.minutes(1)), .serialized)
struct IRCQueueTests {
    @Test("per-target and total caps: lines past them are dropped and counted, the reply says so, sends fail when full")
    func caps() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try IRCAdapter(configuration: IRCConfiguration(
            host: "127.0.0.1", port: peer.port, nick: "gatewayd", channels: [], floodBurst: 1000, floodPerSecond: 1000))
        // Not started yet: the lines wait for a connection (bounded).
        let perTarget = GatewayConstants.IRC.queuedLinesPerTarget, total = GatewayConstants.IRC.queuedLinesTotal
        try await adapter.send((1...300).map { "l\($0)" }.joined(separator: "\n"), to: "#bob")
        #expect(adapter.queuedLines == perTarget)
        #expect(adapter.droppedLines == 300 - (perTarget - 1))
        for index in 1..<(total / perTarget) {
            try await adapter.send((1...perTarget).map { "l\($0)" }.joined(separator: "\n"), to: "#user\(index)")
        }
        #expect(adapter.queuedLines == total)
        let full = await #expect(throws: DeliveryFailure.self) { try await adapter.send("one more", to: "#carol") }
        #expect(full?.kind == .refused)
        #expect(adapter.queuedLines == total)
        // Connected: #bob's 200 lines go out, the last one saying what was dropped. (Channels: a
        // reply to a nick sent this way has no identity to confirm, and would be withheld.)
        try await adapter.start(inbound: CannedReplies(replies: []))
        let bob = try await onThread {
            try peer.accept()
            try peer.welcome()
            return try peer.expect(timeout: .seconds(30), "#bob's last line") { $0.hasPrefix("PRIVMSG #bob :…") }
                .filter { $0.hasPrefix("PRIVMSG #bob :") }
        }
        #expect(bob.count == perTarget)
        #expect(bob.last == "PRIVMSG #bob :\(GatewayText.ircLinesDropped(300 - (perTarget - 1)))")
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("the ledger's acknowledgement: told once the last line is written; lines still queued at a stop are reported as never sent")
    func acknowledgement() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try IRCAdapter(configuration: IRCConfiguration(
            host: "127.0.0.1", port: peer.port, nick: "gatewayd", channels: [], floodBurst: 1000, floodPerSecond: 1000))
        let (outcomes, told) = AsyncStream<DeliveryFailure?>.makeStream()
        // Not connected yet: queued, not taken.
        await adapter.send("one\ntwo", to: ChatAddress(platform: "irc", chat: "#ops")) { told.yield($0) }
        #expect(adapter.queuedLines == 2)
        try await adapter.start(inbound: CannedReplies(replies: []))
        try await onThread {
            try peer.accept()
            try peer.welcome()
            _ = try peer.expect(timeout: .seconds(30), "the last line") { $0 == "PRIVMSG #ops :two" }
        }
        var outcome = outcomes.makeAsyncIterator()
        let written = await outcome.next()
        #expect(written == .some(nil), "taken once written")
        #expect(adapter.queuedLines == 0)
        await adapter.stop(flushingWithin: .zero)

        // Never connected: at the stop, the reply is still queued and nothing of it was sent.
        let away = try IRCAdapter(configuration: IRCConfiguration(
            host: "127.0.0.1", port: try ScriptedIRCPeer().port, nick: "gatewayd", channels: []))
        await away.send("three", to: ChatAddress(platform: "irc", chat: "#ops")) { told.yield($0) }
        await away.stop(flushingWithin: .zero)
        let unsent = try #require(await outcome.next() ?? nil)
        #expect(unsent.kind == .unreachable && unsent.certainlyUnsent, "\(unsent)")
        // A stopped adapter refuses at once, as unsent (a later start sends it).
        await away.send("four", to: ChatAddress(platform: "irc", chat: "#ops")) { told.yield($0) }
        let late = try #require(await outcome.next() ?? nil)
        #expect(late.kind == .unreachable && late.certainlyUnsent, "\(late)")
    }

    @Test("an admin's reply overtakes the replies waiting for 20 others")
    func adminsFirst() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, AdminByNick(), burst: 1, perSecond: 5)
        for index in 1...20 { peer.send(":s\(index)!s@host PRIVMSG gatewayd :let me in") }
        let seen = try await onThread {
            try peer.expect("a stranger's reply") { $0.hasPrefix("PRIVMSG s") }
            peer.send(":boss!b@host PRIVMSG gatewayd :status?")
            var seen = try peer.expect("the WHOIS for boss") { $0 == "WHOIS :boss" }
            peer.send(":irc.test 311 gatewayd boss b host * :boss", ":irc.test 318 gatewayd boss :End of WHOIS list")
            seen += try peer.expect("boss's reply") { $0 == "PRIVMSG boss :for boss" }
            return seen
        }
        let before = seen.filter { $0.hasPrefix("PRIVMSG s") }.count
        #expect(before <= 3, "boss waited behind \(before) other replies: \(seen)")
        await adapter.stop(flushingWithin: .zero)
    }
}

@Suite("IRC incoming messages: bounded while the dispatcher lags", .timeLimit(.minutes(1)))
struct IRCInboundTests {
    @Test("past 4,096 messages in hand, new ones are dropped and counted instead of piling up tasks")
    func inboundBounded() async throws {
        let peer = try ScriptedIRCPeer()
        // A dispatcher that cannot keep up: every message waits at a closed gate.
        let held = InboundGate(await runningDispatcher(#"access: {allowed_users: ["irc:*"]}"#))
        let adapter = try await scriptedGateway(peer, held)
        let cap = GatewayConstants.IRC.maxInboundInFlight
        peer.send(contentsOf: (0..<(cap + 5)).map { ":s\($0)!s@host PRIVMSG gatewayd :let me in" })
        #expect(await adapter.waitForDroppedMessages(5, within: .seconds(20)))
        held.open()
        await adapter.stop(flushingWithin: .zero)
    }
}
