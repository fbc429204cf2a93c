import GatewayCore
import Testing

@Suite("Draining", .timeLimit(.minutes(1)))
struct DrainTests {
    let yaml = """
        quick_commands:
          up: {type: exec, command: "echo up"}
          slow: {type: exec, command: "sleep 30", timeout: 300ms}
          missing: {type: exec, command: "/nonexistent/binary"}
          empty: {type: exec, command: ""}
        drain:
          timeout: 60s
        """

    @Test("while draining, exec quick commands run and /status answers; agent work is refused")
    func execRunsWhileDraining() async throws {
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent(), clock: ManualClock())
        await d.markRunning()
        #expect(await d.beginDrain(.admin))
        #expect(await send(d, "/up") == ["up"])
        #expect(await send(d, "/slow") == ["Quick command timed out (1s)."])
        #expect(await send(d, "/missing").first?.contains("/nonexistent/binary") == true)
        #expect(await send(d, "/empty") == ["Quick command '/empty' has no command defined."])
        #expect(await send(d, "/status").first?.contains("draining (admin)") == true)
        #expect(await send(d, "/whoami") == ["You are local:alice (admin: exec quick commands and /restart)."])
        #expect(await send(d, "hello") == ["⏳ Gateway is draining and is not accepting new work right now."])
        #expect(await send(d, "/nope") == ["⏳ Gateway is draining and is not accepting new work right now."])
        #expect(await send(d, "/new") == ["⏳ Gateway is draining and is not accepting new work right now."])
        #expect(await d.beginDrain(.restart))
        #expect(await send(d, "hello") == ["⏳ Gateway is restarting and is not accepting new work right now."])
        #expect(await send(d, "/restart") == ["⏳ Gateway restart already in progress..."])
        #expect(await send(d, "/up") == ["up"])
        #expect(await !d.beginDrain(.admin), "a restart drain never softens into an admin one")
        await d.waitUntilDrained()
        await d.markStopping()
        #expect(await d.state == .stopping(.restart))
        #expect(await send(d, "/up") == ["up"], "exec quick commands run even while stopping")
        #expect(await send(d, "hello") == ["⏳ Gateway is restarting and is not accepting new work right now."])
    }

    @Test("the drain timeout interrupts running turns and tells each chat once; a turn done in time is left alone")
    func drainTimeout() async throws {
        let agent = GateAgent()
        let clock = ManualClock()
        let d = Dispatcher(config: try config(yaml), agent: agent, clock: clock)
        await d.markRunning()
        let a = Replies(), b1 = Replies(), b2 = Replies(), c = Replies()
        let turns = [
            Task { await d.handle(message("A", user: "alice", chat: "c1"), replies: a) },
            Task { await d.handle(message("B1", user: "bob", chat: "#ops", platform: "local", chatType: .group), replies: b1) },
            Task { await d.handle(message("B2", user: "carol", chat: "#ops", platform: "local", chatType: .group), replies: b2) },
            Task { await d.handle(message("C", user: "dave", chat: "c3"), replies: c) },
        ]
        await agent.waitForStarts(4)
        let events = await d.subscribe()
        #expect(await d.beginDrain(.restart))
        agent.release("C")
        // C's turn is over (not just answered) before the timeout fires.
        for await event in events {
            if case .countersChanged(let counters) = event, counters.turnsInFlight == 3 { break }
        }
        await clock.waitForSleep(of: .seconds(60))
        clock.advance(by: .seconds(60))
        for turn in turns { await turn.value }
        await d.waitUntilDrained()

        let notice = "⚠️ Gateway restarting — Your current task will be interrupted. Send any message after restart and I'll try to resume where you left off."
        #expect(a.texts == [notice])
        #expect((b1.texts + b2.texts) == [notice], "one notice for the #ops chat, not one per session")
        #expect(c.texts == ["answer: C"])
        #expect(Set(agent.cancelledTexts) == ["A", "B1", "B2"])
        #expect(await d.snapshot.counters.turnsInFlight == 0)
    }

    @Test("turns that finish before the timeout are not interrupted; the drain completes")
    func drainCompletesInTime() async throws {
        let agent = GateAgent()
        let d = Dispatcher(config: try config(yaml), agent: agent, clock: ManualClock())
        await d.markRunning()
        let replies = Replies()
        let turn = Task { await d.handle(message("finishing"), replies: replies) }
        await agent.waitForStarts(1)
        let events = await d.subscribe()
        #expect(await d.beginDrain(.stop))
        agent.release("finishing")
        await turn.value
        await d.waitUntilDrained()
        #expect(replies.texts == ["answer: finishing"])
        #expect(agent.cancelledTexts.isEmpty)
        var sawDrained = false
        for await event in events {
            if case .drained(let reason) = event { sawDrained = reason == .stop; break }
        }
        #expect(sawDrained)
    }

    @Test("resume leaves an admin drain and starts what queued meanwhile")
    func resume() async throws {
        let agent = GateAgent()
        let d = Dispatcher(config: try config("busy_input_mode: queue"), agent: agent, clock: ManualClock())
        await d.markRunning()
        let turn = Task { await d.handle(message("running"), replies: Replies()) }
        await agent.waitForStarts(1)
        let queued = Replies()
        await d.handle(message("waiting"), replies: queued)
        #expect(await d.beginDrain(.admin))
        agent.release("running")
        await turn.value
        #expect(agent.startedTurns.map(\.text) == ["running"], "nothing new starts while draining")
        #expect(await d.resume())
        #expect(await d.state == .running)
        agent.release("waiting")
        #expect(await queued.wait(for: 2) == [
            "⏳ Queued for the next turn. I'll respond once the current task finishes.", "answer: waiting",
        ])
        #expect(await !d.resume(), "resume outside an admin drain does nothing")
    }

    @Test("sessions and queues survive a reload")
    func reloadKeepsSessions() async throws {
        let agent = GateAgent()
        let d = Dispatcher(config: try config("busy_input_mode: queue"), agent: agent, clock: ManualClock())
        await d.markRunning()
        let turn = Task { await d.handle(message("before"), replies: Replies()) }
        await agent.waitForStarts(1)
        _ = await send(d, "queued")
        await d.reload(try config("busy_input_mode: queue\nquick_commands: {x: {type: exec, command: 'echo x'}}"))
        let sessions = await d.sessionSnapshots()
        #expect(sessions.map(\.key) == ["local:dm:c1"])
        #expect(sessions.first?.turnRunning == true)
        #expect(sessions.first?.queued == 1)
        agent.release("before")
        agent.release("queued")
        await turn.value
        #expect(agent.startedTurns.map(\.text) == ["before", "queued"])
    }
}
