import GatewayCore
import GatewayTestSupport
import Logging
import Platforms
import NIOConcurrencyHelpers
import Testing

/// Answers each message once the test opens the gate: a turn of the agent that takes its time.
private final class HeldAnswers: InboundHandler, Sendable {
    private struct State {
        var open = false
        var arrived = 0
        var held: [CheckedContinuation<Void, Never>] = []
        var arrivalWaiters: [(Int, CheckedContinuation<Void, Never>)] = []
    }

    private let state = NIOLockedValueBox(State())

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (proceed, ready) = state.withLockedValue { state in
                state.arrived += 1
                let arrived = state.arrived
                let ready = state.arrivalWaiters.filter { $0.0 <= arrived }.map(\.1)
                state.arrivalWaiters.removeAll { $0.0 <= arrived }
                if !state.open { state.held.append(continuation) }
                return (state.open, ready)
            }
            for waiter in ready { waiter.resume() }
            if proceed { continuation.resume() }
        }
        await replies.send("answer: \(message.text)")
    }

    /// Returns once `count` messages in all have come.
    func waitForArrivals(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { state in
                if state.arrived >= count { return true }
                state.arrivalWaiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Lets every held message and every later one be answered.
    func open() {
        let held = state.withLockedValue { state in
            state.open = true
            defer { state.held = [] }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }
}

/// `boss` is an admin (by nick, for this test only); everyone gets a one-line reply at once.
private struct BossIsAdmin: InboundHandler {
    func isAdmin(_ message: InboundMessage) async -> Bool { message.user == "boss" }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await replies.send("for \(message.user)")
    }
}

/// A gateway whose private replies may follow their message for 200 ms without a WHOIS; alice
/// asks `text`, and her turn outlasts that window before it answers.
private func askedLate(_ peer: ScriptedIRCPeer, _ text: String) async throws -> IRCAdapter {
    let turns = HeldAnswers()
    let window = Duration.milliseconds(200)
    let adapter = try await scriptedGateway(peer, turns, unconfirmedReplyWindow: window)
    peer.send(":alice!~alice@home PRIVMSG gatewayd :\(text)")
    await turns.waitForArrivals(1)
    // What is tested is a turn that lasts longer than the window: nothing happens meanwhile.
    try await Task.sleep(for: window + .milliseconds(100))
    turns.open()
    return adapter
}

@Suite("IRC private replies that come late: the nick's holder confirmed by WHOIS", .timeLimit(.minutes(1)), .serialized)
struct IRCConfirmationTests {
    @Test("replies after a restart (an address with the sender's identity): WHOIS first; same mask delivered, other account withheld, no identity withheld unasked, channel at once")
    func repliesAfterRestart() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, CannedReplies(replies: []))
        try await adapter.send("for alice", to: ChatAddress(platform: "irc", chat: "alice", hostmask: "alice!~alice@home"))
        try await adapter.send("for bob", to: ChatAddress(platform: "irc", chat: "bob", account: "bob", hostmask: "bob!~bob@home"))
        try await adapter.send("stored before identities", to: ChatAddress(platform: "irc", chat: "carol"))
        try await adapter.send("stored before identities", to: "dave")
        try await adapter.send("to the channel", to: ChatAddress(platform: "irc", chat: "#ops"))
        let seen = try await onThread {
            var seen = try peer.expect("the channel's reply") { $0 == "PRIVMSG #ops :to the channel" }
            for nick in ["alice", "bob"] where !seen.contains("WHOIS :\(nick)") {
                seen += try peer.expect("the WHOIS for \(nick)") { $0 == "WHOIS :\(nick)" }
            }
            // bob's nick is held by someone logged in as another account: withheld.
            peer.send(":irc.test 311 gatewayd bob ~bob home * :bob", ":irc.test 330 gatewayd bob mallory :is logged in as",
                      ":irc.test 318 gatewayd bob :End of WHOIS list")
            // alice's by the same nick!user@host: delivered.
            peer.send(":irc.test 311 gatewayd alice ~alice home * :alice", ":irc.test 318 gatewayd alice :End of WHOIS list")
            seen += try peer.expect("alice's reply") { $0 == "PRIVMSG alice :for alice" }
            return seen
        }
        #expect(await adapter.waitForWithheldLines(3, within: .seconds(15)), "bob's, carol's and dave's lines")
        let after = try await onThread {
            peer.send("PING :sync")
            return try peer.expect("the PONG") { $0 == "PONG :sync" }
        }
        let all = seen + after
        #expect(!all.contains { $0.hasPrefix("PRIVMSG bob") || $0.contains("carol") || $0.contains("dave") }, "\(all)")
        #expect(seen.firstIndex(of: "WHOIS :alice")! < seen.firstIndex(of: "PRIVMSG alice :for alice")!)
        #expect(adapter.withheldLines == 3)
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("a DM sender outside the bot's channels leaves while the turn runs and mallory takes the nick unseen: the late reply is WHOIS-confirmed and withheld")
    func lateReplyToUnseenNick() async throws {
        let peer = try ScriptedIRCPeer()
        // alice quits and mallory takes "alice" while the turn runs; the bot shares no channel
        // with either, so the server tells it nothing.
        let adapter = try await askedLate(peer, "what is my secret?")
        let seen = try await onThread {
            let seen = try peer.expect("a WHOIS before the reply") { $0.hasPrefix("WHOIS") || $0.hasPrefix("PRIVMSG alice") }
            peer.send(":irc.test 311 gatewayd alice ~mallory evil * :mallory", ":irc.test 318 gatewayd alice :End of WHOIS list")
            return seen
        }
        #expect(seen.last == "WHOIS :alice", "\(seen)")
        #expect(await adapter.waitForWithheldLines(1, within: .seconds(15)))
        // mallory's own message is answered at once, and it is the first thing she gets.
        peer.send(":alice!~mallory@evil PRIVMSG gatewayd :hi")
        let mallory = try await onThread {
            try peer.expect("mallory's reply") { line in
                // On a loaded machine her reply may come after the 200 ms window: the adapter then
                // asks who holds the nick first, as it should, and she does.
                if line == "WHOIS :alice" {
                    peer.send(":irc.test 311 gatewayd alice ~mallory evil * :mallory", ":irc.test 318 gatewayd alice :End of WHOIS list")
                }
                return line.hasPrefix("PRIVMSG alice")
            }
        }
        #expect(mallory.last == "PRIVMSG alice :answer: hi")
        #expect(!mallory.contains { $0.contains("secret") }, "\(mallory)")
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("the same late reply reaches alice when the WHOIS shows her still holding the nick")
    func lateReplyToSamePerson() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await askedLate(peer, "question")
        try await onThread {
            try peer.answerWhois("alice", user: "~alice", host: "home")
            try peer.expect("the reply") { $0 == "PRIVMSG alice :answer: question" }
        }
        #expect(adapter.withheldLines == 0)
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("40 late replies to 40 nicks: at most half the WHOIS slots wait for them, an admin's reply still gets one; each answer lets the next go")
    func whoisBounded() async throws {
        let peer = try ScriptedIRCPeer()
        let adapter = try await scriptedGateway(peer, BossIsAdmin())
        let cap = GatewayConstants.IRC.maxPendingWhois / 2
        for index in 1...40 {
            try await adapter.send("reply \(index)", to: ChatAddress(platform: "irc", chat: "n\(index)", hostmask: "n\(index)!~u@h"))
        }
        let (asked, next) = try await onThread {
            var asked: [String] = []
            while asked.count < cap {
                asked += try peer.expect("WHOIS \(asked.count + 1)") { $0.hasPrefix("WHOIS :") }.filter { $0.hasPrefix("WHOIS :") }
            }
            peer.send("PING :full")
            asked += try peer.expect("the PONG") { $0 == "PONG :full" }.filter { $0.hasPrefix("WHOIS :") }
            // The admin's reply is confirmed too, in a slot the others' cannot take.
            peer.send(":boss!~b@h PRIVMSG gatewayd :status?")
            try peer.answerWhois("boss", user: "~b", host: "h")
            try peer.expect("boss's reply") { $0 == "PRIVMSG boss :for boss" }
            let first = String(asked[0].dropFirst("WHOIS :".count))
            peer.send(":irc.test 311 gatewayd \(first) ~u h * :x", ":irc.test 318 gatewayd \(first) :End of WHOIS list")
            var next = try peer.expect("\(first)'s reply") { $0.hasPrefix("PRIVMSG \(first) :") }
            if !next.contains(where: { $0.hasPrefix("WHOIS :") }) {
                next += try peer.expect("the next WHOIS") { $0.hasPrefix("WHOIS :") }
            }
            peer.send("PING :again")
            next += try peer.expect("the PONG") { $0 == "PONG :again" }
            return (asked, next)
        }
        #expect(asked.count == cap, "\(asked)")
        #expect(Set(asked).count == cap)
        #expect(next.filter { $0.hasPrefix("WHOIS :") }.count == 1, "one answered, one more asked: \(next)")
        await adapter.stop(flushingWithin: .zero)
    }

    @Test("replies still queued at exit (the server away): dropped with a warning that counts them")
    func unsentAtStopIsLogged() async throws {
        let records = LogRecorder()
        let adapter = try IRCAdapter(configuration: IRCConfiguration(host: "127.0.0.1", port: freeLoopbackPort(), nick: "gatewayd", channels: []),
                                     logger: records.logger())
        try await adapter.send("one\ntwo\nthree", to: "#ops")
        try await adapter.send("four", to: "#dev")
        #expect(adapter.queuedLines == 4)
        await adapter.stop(flushingWithin: .zero)
        let warnings = records.all.filter { $0.metadata["event"] == "irc_unsent_at_stop" }
        #expect(warnings.count == 1)
        #expect(warnings.first?.level == .warning)
        #expect(warnings.first?.metadata["dropped"] == "4" && warnings.first?.metadata["targets"] == "2")
        #expect(warnings.first?.message.contains("4 reply line(s) to 2 chat(s)") == true, "\(warnings.first?.message ?? "none")")
        #expect(adapter.queuedLines == 0)
    }
}
