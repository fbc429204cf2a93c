import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

/// What the ircstate fuzz target (Fuzz/FuzzIRCState: the adapter fed a server's bytes) found,
/// against a scripted server on a real socket; each input is also in Fuzz/corpus/ircstate.
@Suite("IRC adapter: what the ircstate fuzzer found", .timeLimit(.minutes(1)), .serialized)
struct IRCStateFuzzFindingsTests {
    @Test("a PING whose middle parameter cannot go on the wire (a control character, too long) is answered with its token")
    func pingWithAnUnsendableParameter() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, Dispatcher(config: GatewayConfig(), agent: EchoAgent()))
        let long = String(repeating: "s", count: 600)
        try await onThread {
            peer.send("PING \u{1}odd :first", "PING \(long) :second", "PING a :third")
            // Without the token alone, neither of the first two was answered at all.
            try peer.expect("the first PONG") { $0 == "PONG :first" }
            try peer.expect("the second PONG") { $0 == "PONG :second" }
            // One the wire can carry is answered as before, every parameter echoed.
            try peer.expect("the third PONG") { $0 == "PONG a :third" }
        }
        #expect(IRCAdapter.pong(IRCMessage(command: "PING", parameters: ["x y", "t"])).parameters == ["t"])
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("channels the server joins the bot to beyond the configured ones are remembered up to a cap, the configured always")
    func joinedChannelsBounded() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, Dispatcher(config: GatewayConfig(), agent: EchoAgent()), channels: ["#ops"])
        let others = (0..<300).map { ":gatewayd!gw@127.0.0.1 JOIN :#other\($0)" }
        try await onThread {
            try peer.expect("the JOIN") { $0.hasPrefix("JOIN") }
            peer.send(contentsOf: others + [":gatewayd!gw@127.0.0.1 JOIN :#ops", "PING :joined"])
            try peer.expect("the PONG") { $0 == "PONG :joined" }
        }
        #expect(adapter.retained.joinedChannels == GatewayConstants.IRC.maxOtherChannelsJoined + 1)
        let detail = await adapter.health().detail
        #expect(detail.contains("#other0,") && !detail.contains("#other299") && detail.hasSuffix(",#ops"), "\(detail)")
        await adapter.stop(flushingWithin: .zero)
    }
}
