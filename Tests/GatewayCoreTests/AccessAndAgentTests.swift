import Foundation
import GatewayCore
import ProcessRunner
import NIOConcurrencyHelpers
import Testing

@Suite("Access", .timeLimit(.minutes(1)))
struct AccessTests {
    let yaml = """
        quick_commands: {up: {type: exec, command: "echo up"}}
        access:
          allowed_users: ["irc:alice", "webhook:*"]
          admins: ["irc:~alice"]
        """

    /// A direct IRC message from alice, logged in to services as `alice` (the server's tag).
    func fromAlice(_ text: String, _ d: Dispatcher) async -> [String] {
        let replies = Replies()
        await d.handle(InboundMessage(platform: "irc", chat: "alice", user: "alice", text: text, account: "alice",
                                      hostmask: "alice!a@host"), replies: replies)
        return replies.texts
    }

    @Test("strangers: one refusal in a direct chat, silence in a group")
    func strangers() async throws {
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent())
        await d.markRunning()
        #expect(await send(d, "hi", user: "mallory", platform: "irc") == [
            "⛔ You are not allowed to use this gateway. Ask its operator to add you to access.allowed_users.",
        ])
        #expect(await send(d, "/up", user: "mallory", chat: "#ops", platform: "irc", chatType: .group) == [])
    }

    @Test("exec quick commands and /restart need an admin; local senders are admins")
    func admins() async throws {
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent())
        await d.markRunning()
        #expect(await fromAlice("/up", d) == ["up"])
        #expect(await send(d, "/up", user: "alice", platform: "irc") == ["⛔ /up is admin-only here. Use /whoami to see what you may run."],
                "the nick alone is not alice: anyone may hold it")
        #expect(await send(d, "/up", user: "bob", platform: "webhook") == ["⛔ /up is admin-only here. Use /whoami to see what you may run."])
        #expect(await send(d, "hello", user: "bob", platform: "webhook") == ["echo: hello"])
        #expect(await send(d, "/whoami", user: "bob", platform: "webhook") == ["You are webhook:bob."])
        #expect(await send(d, "/up", user: "root") == ["up"])
        #expect(await send(d, "/restart", user: "bob", platform: "webhook") == ["⛔ /restart is admin-only here. Use /whoami to see what you may run."])
        #expect(await d.state == .running)
        #expect(await fromAlice("/restart", d) == ["♻ Restarting gateway."])
        #expect(await d.state == .draining(.restart))
    }
}

@Suite("Agent backends", .timeLimit(.minutes(1)))
struct AgentTests {
    @Test("command backend: the turn as JSON on stdin, each stdout line a reply")
    func commandBackend() async throws {
        let agent = CommandAgent(
            argv: ["/bin/sh", "-c", #"read -r line; printf 'got %s\nsecond\n' "$line""#],
            runner: ProcessRunner(maxConcurrent: 4), environment: ProcessRunner.minimalEnvironment,
            timeout: .seconds(10))
        let d = Dispatcher(config: GatewayConfig(), agent: agent)
        await d.markRunning()
        let replies = await send(d, "hello there", user: "alice", chat: "c9")
        #expect(replies == [
            #"got {"chat":"c9","platform":"local","session":"local:dm:c9","text":"hello there","user":"alice"}"#,
            "second",
        ])
    }

    @Test("command backend: each line reaches the chat as soon as it is written, before the command exits")
    func commandBackendStreams() async throws {
        let gate = NSTemporaryDirectory() + "gatewayd-agent-gate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(gate) }
        // The command waits for a file that the test creates only once the first line arrived.
        let agent = CommandAgent(
            argv: ["/bin/sh", "-c", "echo first; i=0; while [ ! -e '\(gate)' ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done; [ -e '\(gate)' ] && echo second"],
            runner: ProcessRunner(maxConcurrent: 4), environment: ProcessRunner.minimalEnvironment,
            timeout: .seconds(30))
        let replies = NIOLockedValueBox<[String]>([])
        _ = try await agent.run(AgentTurn(session: "s", platform: "local", chat: "c", user: "u", text: "x")) { text in
            let first = replies.withLockedValue { $0.append(text); return $0.count == 1 }
            if first { FileManager.default.createFile(atPath: gate, contents: nil) }
        }
        #expect(replies.withLockedValue { $0 } == ["first", "second"])
    }

    @Test("a reload's new agent serves the turns that start after it; a turn already running finishes on the old one")
    func reloadedAgent() async throws {
        let old = GateAgent()
        let d = Dispatcher(config: GatewayConfig(), agent: old)
        await d.markRunning()
        let running = Replies()
        let turn = Task { await d.handle(message("before", chat: "a"), replies: running) }
        await old.waitForStarts(1)
        var next = GatewayConfig()
        next.agent.turnTimeout = .seconds(5)
        await d.reload(next, agent: EchoAgent())
        #expect(await send(d, "after", chat: "b") == ["echo: after"], "a new turn: the new agent")
        old.release("before")
        await turn.value
        #expect(running.texts == ["answer: before"], "the running turn finished on the old agent")
        #expect(old.startedTurns.count == 1)
        #expect(await d.config.agent.turnTimeout == .seconds(5))
    }

    @Test("a crashing agent command becomes a clear reply, not silence")
    func crashingBackend() async throws {
        let agent = CommandAgent(
            argv: ["/bin/sh", "-c", "echo partial; echo 'model not loaded' >&2; exit 2"],
            runner: ProcessRunner(maxConcurrent: 4), environment: ProcessRunner.minimalEnvironment,
            timeout: .seconds(10))
        let d = Dispatcher(config: GatewayConfig(), agent: agent)
        await d.markRunning()
        #expect(await send(d, "hi") == ["partial", "⚠️ The agent failed: /bin/sh exited with status 2: model not loaded"])
        let missing = Dispatcher(config: GatewayConfig(), agent: CommandAgent(
            argv: ["/nonexistent/agent"], runner: ProcessRunner(), environment: [:], timeout: .seconds(5)))
        await missing.markRunning()
        #expect(await send(missing, "hi").first?.hasPrefix("⚠️ The agent failed: cannot run /nonexistent/agent") == true)
    }

    @Test("agent.turn_timeout stops a turn that never answers, and says so")
    func turnTimeout() async throws {
        let agent = GateAgent()
        let clock = ManualClock()
        let d = Dispatcher(config: try config("agent: {turn_timeout: 2m}"), agent: agent, clock: clock)
        await d.markRunning()
        let replies = Replies()
        let turn = Task { await d.handle(message("stuck"), replies: replies) }
        await clock.waitForSleep(of: .seconds(120))
        clock.advance(by: .seconds(120))
        await turn.value
        #expect(replies.texts == ["⏱ The agent did not answer within 120s; the turn was stopped."])
        #expect(agent.cancelledTexts == ["stuck"])
    }

    @Test("the echo agent is the zero-config default")
    func echoDefault() async throws {
        let d = Dispatcher(config: GatewayConfig(), agent: EchoAgent())
        await d.markRunning()
        #expect(await send(d, "ping") == ["echo: ping"])
        #expect(await send(d, "/help").first?.contains("/commands") == true)
    }
}
