import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

/// Replies to each message with `lines` lines (`line 1`...), and says when the reply was handed over.
final class LongReply: InboundHandler, Sendable {
    let lines: Int
    let handedOver = AsyncStream<Void>.makeStream()

    init(lines: Int) { self.lines = lines }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await replies.send((1...lines).map { "line \($0)" }.joined(separator: "\n"))
        handedOver.continuation.yield()
    }
}

/// Replies only once the test opens the gate (a turn that outlives the connection it came on).
final class GatedReply: InboundHandler, Sendable {
    let gate = AsyncStream<Void>.makeStream()
    let arrived = AsyncStream<Void>.makeStream()
    let handedOver = AsyncStream<Void>.makeStream()
    let reply: String

    init(reply: String) { self.reply = reply }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        arrived.continuation.yield()
        var gate = self.gate.stream.makeAsyncIterator()
        await gate.next()
        await replies.send(reply)
        handedOver.continuation.yield()
    }
}

@Suite("IRC delivery: replies are not lost to a stop or a reconnect", .timeLimit(.minutes(2)), .serialized)
struct IRCDeliveryTests {
    @Test("a 30-line reply at 2 lines/s, then stop(): every line arrives, in order",
          .enabled(if: IRCServer.isAvailable, "ngircd is not installed"))
    func stopFlushes() async throws {
        let server = try await IRCServer.started()
        defer { server.stop() }
        let alice = try await LineClient.registered(port: server.port, "alice")
        let handler = LongReply(lines: 30)
        let adapter = try IRCAdapter(configuration: IRCConfiguration(
            host: "127.0.0.1", port: server.port, nick: "gatewayd", channels: [], floodBurst: 2, floodPerSecond: 2))
        try await adapter.start(inbound: handler)
        await adapter.waitForRegistration()
        alice.send("PRIVMSG gatewayd :tell me everything")
        var handedOver = handler.handedOver.stream.makeAsyncIterator()
        await handedOver.next()
        let stopping = Task { await adapter.stop(flushingWithin: .seconds(30)) }
        let lines = try await onThread {
            var texts: [String] = []
            while texts.count < 30, let line = alice.waitFor(timeout: .seconds(20), { $0.contains(" PRIVMSG alice :") }) {
                texts.append(String(line[line.range(of: " PRIVMSG alice :")!.upperBound...]))
            }
            return texts
        }
        await stopping.value
        #expect(lines == (1...30).map { "line \($0)" })
        alice.close()
    }

    @Test("a reply handed over while the server is away goes out after the reconnect", arguments: ["#ops", "alice"])
    func survivesReconnect(_ chat: String) async throws {
        let peer = try ScriptedIRCPeer()
        let handler = GatedReply(reply: "late but here")
        let adapter = try await scriptedGateway(peer, handler, channels: ["#ops"])
        try await onThread { try peer.expect("JOIN") { $0.hasPrefix("JOIN ") } }
        peer.send(chat == "#ops" ? ":alice!a@host PRIVMSG #ops :gatewayd: take your time" : ":alice!a@host PRIVMSG gatewayd :take your time")
        var arrived = handler.arrived.stream.makeAsyncIterator()
        await arrived.next()
        peer.disconnect()
        // The connection is gone before the reply exists: it must wait for the next one.
        await adapter.waitForDisconnection(1)
        handler.gate.continuation.yield()
        var handedOver = handler.handedOver.stream.makeAsyncIterator()
        await handedOver.next()
        #expect(adapter.queuedLines == 1)
        try await onThread {
            try peer.accept()
            try peer.welcome()
            if chat == "alice" {
                // A new connection: the gateway did not see what happened to the nick meanwhile.
                try peer.answerWhois("alice", user: "a", host: "host")
            }
            try peer.expect("the late reply") { $0 == "PRIVMSG \(chat) :late but here" }
        }
        await adapter.stop(flushingWithin: .seconds(1))
    }
}
