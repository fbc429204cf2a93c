import GatewayCore
import Testing

/// One turn at a time per session; what the next message does meanwhile.
@Suite("Busy sessions", .timeLimit(.minutes(1)))
struct BusyTests {
    @Test("an exec quick command runs inline mid-turn: the agent is neither interrupted nor fed the text")
    func execWhileBusy() async throws {
        let agent = GateAgent()
        let d = Dispatcher(config: try config("quick_commands: {up: {type: exec, command: 'echo up'}}"),
                           agent: agent, clock: ManualClock())
        await d.markRunning()
        let turnReplies = Replies()
        let turn = Task { await d.handle(message("long task"), replies: turnReplies) }
        await agent.waitForStarts(1)
        #expect(await send(d, "/up") == ["up"])
        #expect(await send(d, "/status").first?.contains("turn running") == true)
        #expect(agent.startedTurns.map(\.text) == ["long task"])
        #expect(agent.cancelledTexts.isEmpty)
        agent.release("long task")
        await turn.value
        #expect(turnReplies.texts == ["answer: long task"])
    }

    @Test("interrupt mode: the new message interrupts the turn and runs next")
    func interruptMode() async throws {
        let agent = GateAgent()
        let d = Dispatcher(config: GatewayConfig(), agent: agent, clock: ManualClock())
        await d.markRunning()
        let first = Replies()
        let turn = Task { await d.handle(message("first"), replies: first) }
        await agent.waitForStarts(1)
        let second = Replies()
        await d.handle(message("second"), replies: second)
        #expect(second.texts == ["⚡ Interrupting current task. I'll respond to your message shortly."])
        await agent.waitForStarts(2)
        #expect(agent.cancelledTexts == ["first"])
        agent.release("second")
        await turn.value
        #expect(first.texts.isEmpty)
        #expect(await second.wait(for: 2) == [
            "⚡ Interrupting current task. I'll respond to your message shortly.", "answer: second",
        ])
    }

    @Test("queue mode: FIFO behind the turn, one acknowledgement per 30 s")
    func queueMode() async throws {
        let agent = GateAgent()
        let clock = ManualClock()
        let d = Dispatcher(config: try config("busy_input_mode: queue"), agent: agent, clock: clock)
        await d.markRunning()
        let turn = Task { await d.handle(message("one"), replies: Replies()) }
        await agent.waitForStarts(1)
        #expect(await send(d, "two") == ["⏳ Queued for the next turn. I'll respond once the current task finishes."])
        #expect(await send(d, "three") == [], "a second acknowledgement within 30 s")
        clock.advance(by: .seconds(31))
        #expect(await send(d, "four") == ["⏳ Queued for the next turn. I'll respond once the current task finishes."])
        #expect(await d.sessionSnapshots().first?.queued == 3)
        for text in ["one", "two", "three", "four"] { agent.release(text) }
        await turn.value
        #expect(agent.startedTurns.map(\.text) == ["one", "two", "three", "four"])
        #expect(agent.cancelledTexts.isEmpty)
        #expect(await d.sessionSnapshots().first?.turnCount == 4)
    }

    @Test("/stop mid-turn stops it; idle it says so; /new waits for the turn")
    func stopAndNew() async throws {
        let agent = GateAgent()
        let d = Dispatcher(config: GatewayConfig(), agent: agent, clock: ManualClock())
        await d.markRunning()
        #expect(await send(d, "/stop") == ["No active task to stop."])
        let replies = Replies()
        let turn = Task { await d.handle(message("work"), replies: replies) }
        await agent.waitForStarts(1)
        #expect(await send(d, "/new") == ["⏳ Agent is running — `/new` can't run mid-turn. Wait for the current response or `/stop` first."])
        #expect(await send(d, "/stop") == ["⚡ Stopped. You can continue this session."])
        await turn.value
        #expect(agent.cancelledTexts == ["work"])
        #expect(replies.texts.isEmpty)
        #expect(await send(d, "/reset") == ["✨ Session reset. Starting fresh."])
    }

    @Test("/queue adds its text as a turn of its own")
    func queueCommand() async throws {
        let agent = GateAgent()
        let d = Dispatcher(config: GatewayConfig(), agent: agent, clock: ManualClock())
        await d.markRunning()
        #expect(await send(d, "/queue") == ["Usage: /queue <prompt>"])
        let turn = Task { await d.handle(message("main"), replies: Replies()) }
        await agent.waitForStarts(1)
        #expect(await send(d, "/queue later one") == ["Queued for the next turn."])
        #expect(await send(d, "/queue later two") == ["Queued for the next turn. (2 queued)"])
        for text in ["main", "later one", "later two"] { agent.release(text) }
        await turn.value
        #expect(agent.startedTurns.map(\.text) == ["main", "later one", "later two"])
    }

    @Test("sessions are per direct chat, and per person in a group")
    func sessionKeys() {
        #expect(message("x", user: "alice", chat: "42").sessionKey == "local:dm:42")
        #expect(message("x", user: "alice", chat: "#ops", platform: "irc", chatType: .group).sessionKey == "irc:group:#ops:alice")
    }
}
