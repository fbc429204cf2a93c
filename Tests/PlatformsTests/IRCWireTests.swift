import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

/// Answers every message with each of `replies` in turn, then `END`, so a test reading the wire
/// knows where the answer stops.
struct CannedReplies: InboundHandler {
    let replies: [String]

    func handle(_ message: InboundMessage, replies sink: any ReplySink) async {
        for reply in replies { await sink.send(reply) }
        await sink.send("END")
    }
}

/// A gateway on a scripted peer, registered; the peer is past the welcome.
func scriptedGateway(_ peer: ScriptedIRCPeer, _ inbound: any InboundHandler, channels: [String] = [],
                     burst: Int = 1000, perSecond: Double = 1000,
                     unconfirmedReplyWindow: Duration = GatewayConstants.IRC.unconfirmedReplyWindow) async throws -> IRCAdapter {
    var configuration = IRCConfiguration(
        host: "127.0.0.1", port: peer.port, nick: "gatewayd", channels: channels, floodBurst: burst, floodPerSecond: perSecond,
        reconnectMin: .milliseconds(50), reconnectMax: .milliseconds(200))
    configuration.unconfirmedReplyWindow = unconfirmedReplyWindow
    let adapter = try IRCAdapter(configuration: configuration)
    try await adapter.start(inbound: inbound)
    try await onThread {
        try peer.accept()
        try peer.welcome()
    }
    await adapter.waitForRegistration()
    return adapter
}

/// The lines the gateway writes up to the one ending in `:END`, as raw bytes (CRLF removed).
func linesUntilEnd(_ peer: ScriptedIRCPeer) async throws -> [[UInt8]] {
    try await onThread {
        var lines: [[UInt8]] = []
        while let line = peer.readLineBytes() {
            if line.starts(with: Array("PING".utf8)) { continue }
            if line.reversed().starts(with: Array(":END".utf8.reversed())) { return lines }
            lines.append(line)
        }
        throw IRCTestError("no END; got \(lines.map { String(decoding: $0, as: UTF8.self) })")
    }
}

@Suite("IRC wire safety: nothing a reply holds becomes a command", .timeLimit(.minutes(1)), .serialized)
struct IRCWireTests {
    @Test("CR LF, a lone CR, NUL, U+2028/2029/0085: each newline form is a new PRIVMSG, nothing else reaches the wire")
    func newlinesAndControls() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, CannedReplies(replies: [
            "ok\r\nQUIT :bye", "a\rJOIN #evil", "x\u{0}y", "one\u{2028}two\u{2029}three\u{85}four\n\nfive",
        ]))
        peer.send(":alice!a@h PRIVMSG gatewayd :hi")
        let lines = try await linesUntilEnd(peer)
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == [
            "PRIVMSG alice :ok", "PRIVMSG alice :QUIT :bye",
            "PRIVMSG alice :a", "PRIVMSG alice :JOIN #evil",
            "PRIVMSG alice :xy",
            "PRIVMSG alice :one", "PRIVMSG alice :two", "PRIVMSG alice :three", "PRIVMSG alice :four", "PRIVMSG alice :five",
        ])
        #expect(lines.allSatisfy { !$0.contains(13) && !$0.contains(0) })
        await adapter.stop(flushingWithin: .seconds(1))
    }

    @Test("a 10,001-byte grapheme is cut at scalar boundaries: every line fits in 512 bytes with CRLF")
    func hugeGrapheme() async throws {
        let peer = try ScriptedIRCPeer()
        let grapheme = "e" + String(repeating: "\u{301}", count: 5000)
        #expect(grapheme.count == 1 && grapheme.utf8.count == 10001)
        let adapter = try await scriptedGateway(peer, CannedReplies(replies: [grapheme]))
        peer.send(":alice!a@h PRIVMSG gatewayd :hi")
        let lines = try await linesUntilEnd(peer)
        let prefix = Array("PRIVMSG alice :".utf8)
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { $0.count + 2 <= 512 && $0.starts(with: prefix) }, "\(lines.map(\.count))")
        let parts = lines.map { Array($0.dropFirst(prefix.count)) }
        #expect(parts.allSatisfy { String(validating: $0, as: UTF8.self) != nil }, "each part is whole scalars")
        #expect(parts.joined().elementsEqual(grapheme.utf8), "nothing lost, nothing added")
        await adapter.stop(flushingWithin: .seconds(1))
    }

    @Test("a sender nick holding a CR from the network is not answered (it would end the line early)")
    func hostileNick() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, CannedReplies(replies: ["r"]))
        peer.send(":x\rQUIT!a@h PRIVMSG gatewayd :hi", ":alice!a@h PRIVMSG gatewayd :hi")
        let lines = try await linesUntilEnd(peer)
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == ["PRIVMSG alice :r"])
        await adapter.stop(flushingWithin: .seconds(1))
    }

    @Test("channel names and nicks from the config: CR, LF, NUL, spaces and commas are config errors")
    func configNames() throws {
        let base = ["server": "irc.example.net:6667", "nick": "gw"]
        for channels in ["[\"#ops\rQUIT\"]", "[\"#ops\nQUIT\"]", "[\"#o\u{0}ps\"]", "[\"#ops x\"]", "[\"#ops\u{7}\"]"] {
            #expect(throws: ConfigError.self, "\(channels.debugDescription)") {
                try IRCConfiguration.reading(base.merging(["channels": channels]) { $1 })
            }
        }
        for nick in ["gw\r", "gw\nQUIT", "g\u{0}w", "gw,x", ":gw", "#gw"] {
            #expect(throws: ConfigError.self, "\(nick.debugDescription)") {
                try IRCConfiguration.reading(base.merging(["nick": nick]) { $1 })
            }
        }
    }
}
