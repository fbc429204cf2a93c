import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

/// A bot registered under a fallback nick (its own was taken) takes its nick back: when the
/// holder is seen to leave it, and every `nickRegainInterval` otherwise.
@Suite("IRC nick regained", .timeLimit(.minutes(1)), .serialized)
struct IRCNickTests {
    /// Registered as `gatewayd_`: the scripted server said `gatewayd` was in use.
    func registeredUnderFallback(_ peer: ScriptedIRCPeer, regainEvery interval: Duration) async throws -> IRCAdapter {
        var configuration = IRCConfiguration(host: "127.0.0.1", port: peer.port, nick: "gatewayd", channels: ["#ops"],
                                             reconnectMin: .milliseconds(50), reconnectMax: .milliseconds(200))
        configuration.nickRegainInterval = interval
        let adapter = try IRCAdapter(configuration: configuration)
        try await adapter.start(inbound: Dispatcher(config: GatewayConfig(), agent: EchoAgent()))
        try await onThread {
            try peer.accept()
            try peer.expect("USER") { $0.hasPrefix("USER ") }
            peer.send(":irc.test 433 * gatewayd :Nickname is already in use")
            try peer.expect("the fallback nick") { $0 == "NICK :gatewayd_" }
            peer.send(":irc.test 001 gatewayd_ :Welcome gatewayd_!gw@127.0.0.1")
            try peer.expect("the JOIN") { $0.hasPrefix("JOIN") }
        }
        await adapter.waitForRegistration()
        return adapter
    }

    @Test("every interval it asks for its nick; once the server gives it, health says so")
    func periodic() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await registeredUnderFallback(peer, regainEvery: .milliseconds(200))
        let before = await adapter.health().detail
        #expect(before.contains("as gatewayd_"), "\(before)")
        try await onThread {
            try peer.expect("a NICK for its own nick") { $0 == "NICK :gatewayd" }
            peer.send(":gatewayd_!gw@127.0.0.1 JOIN :#ops", ":gatewayd_!gw@127.0.0.1 NICK :gatewayd")
            peer.send("PING :sync")
            try peer.expect("the PONG") { $0 == "PONG :sync" }
        }
        let after = await adapter.health().detail
        #expect(after.contains("as gatewayd in #ops"), "\(after)")
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("the holder of its nick quits: it asks at once, not at the next interval")
    func holderLeaves() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await registeredUnderFallback(peer, regainEvery: .seconds(3600))
        try await onThread {
            peer.send(":gatewayd!someone@elsewhere QUIT :bye")
            try peer.expect(timeout: .seconds(5), "a NICK for its own nick") { $0 == "NICK :gatewayd" }
        }
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("health names the channels the server put the bot in, and those it is not in (refused, kicked)")
    func channelsAsJoined() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, Dispatcher(config: GatewayConfig(), agent: EchoAgent()), channels: ["#ops", "#full"])
        try await onThread {
            try peer.expect("the JOIN") { $0.hasPrefix("JOIN") }
            peer.send(":gatewayd!gw@127.0.0.1 JOIN :#ops", ":irc.test 471 gatewayd #full :Cannot join channel (+l)", "PING :a")
            try peer.expect("the PONG") { $0 == "PONG :a" }
        }
        let joined = await adapter.health().detail
        #expect(joined.hasSuffix("as gatewayd in #ops; not in #full"), "\(joined)")
        try await onThread {
            peer.send(":op!o@h KICK #ops gatewayd :out", "PING :b")
            try peer.expect("the PONG") { $0 == "PONG :b" }
        }
        let kicked = await adapter.health().detail
        #expect(kicked.hasSuffix("as gatewayd; not in #ops,#full"), "\(kicked)")
        await adapter.stop(flushingWithin: .zero)
    }
}
