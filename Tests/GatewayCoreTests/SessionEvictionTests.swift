import GatewayCore
import GatewayTestSupport
import StateStore
import Testing

private func openStore(_ directory: String) throws -> StateStore {
    try #require(StateStore.open(directory: directory).store)
}

/// Returns once the dispatcher's session counter satisfies `condition` (checked first, then at
/// every counters event).
private func waitForSessions(_ d: Dispatcher, _ condition: @escaping @Sendable (Int) -> Bool,
                             events: AsyncStream<GatewayEvent>) async {
    if condition(await d.snapshot.counters.sessions) { return }
    for await event in events {
        if case .countersChanged(let counters) = event, condition(counters.sessions) { return }
    }
}

/// Bounded sessions through the dispatcher: `sessions.max`, `sessions.idle_timeout`, the store
/// bringing an evicted session's turn count back, and the start loading only the most recent.
@Suite("Session eviction", .timeLimit(.minutes(1)))
struct SessionEvictionTests {
    @Test("sessions.max: 100 and 1,000 senders leave at most 100 sessions in memory")
    func maxBoundsMemory() async throws {
        let d = Dispatcher(config: try config("sessions: {max: 100}"), agent: EchoAgent(), clock: ManualClock())
        await d.markRunning()
        for index in 0..<1_000 {
            #expect(await send(d, "hi \(index)", chat: "sender\(index)") == ["echo: hi \(index)"])
        }
        let sessions = await d.sessionSnapshots()
        #expect(sessions.count == 100)
        #expect(await d.snapshot.counters.sessions == 100)
        #expect(sessions.first?.key == "local:dm:sender900", "the 100 most recent stay")
        #expect(sessions.allSatisfy { $0.turnCount == 1 && $0.queued == 0 })
    }

    @Test("an idle session is evicted after idle_timeout; a busy one stays; a reload's lower max evicts at once")
    func idleTimeout() async throws {
        let clock = ManualClock()
        let agent = GateAgent()
        let d = Dispatcher(config: try config("sessions: {idle_timeout: 60s}"), agent: agent, clock: clock)
        await d.markRunning()
        agent.release("quick")
        #expect(await send(d, "quick", chat: "idle") == ["answer: quick"])
        let held = Task { await send(d, "hold", chat: "busy") }
        await agent.waitForStarts(2)
        await clock.waitForSleep(of: .seconds(60))
        let events = await d.subscribe()
        clock.advance(by: .seconds(59))
        #expect(await d.snapshot.counters.sessions == 2)
        clock.advance(by: .seconds(1))
        await waitForSessions(d, { $0 == 1 }, events: events)
        #expect(await d.sessionSnapshots().map(\.key) == ["local:dm:busy"])
        agent.release("hold")
        #expect(await held.value == ["answer: hold"])

        agent.release("again")
        for chat in ["a", "b", "c"] { _ = await send(d, "again", chat: chat) }
        #expect(await d.snapshot.counters.sessions == 4)
        await d.reload(try config("sessions: {idle_timeout: 60s, max: 2}"))
        #expect(await d.sessionSnapshots().map(\.key) == ["local:dm:b", "local:dm:c"])
        #expect(await d.snapshot.counters.sessions == 2)
    }

    @Test("an evicted session continues its turn count from the store; the start loads the most recent sessions only")
    func returningSession() async throws {
        let directory = makeTemporaryDirectory()
        let store = try openStore(directory)
        let d = Dispatcher(config: try config("sessions: {max: 1}"), agent: EchoAgent(), clock: ManualClock(), store: store)
        await d.markRunning()
        _ = await send(d, "one", chat: "alice")
        _ = await send(d, "two", chat: "alice")
        _ = await send(d, "hi", chat: "bob")
        #expect(await d.sessionSnapshots().map(\.key) == ["local:dm:bob"])
        _ = await send(d, "three", chat: "alice")
        await store.flush()
        // The store's answer reaches the dispatcher through a task of its own.
        var turns = 0
        for _ in 0..<10_000 {
            turns = await d.sessionSnapshots().first { $0.key == "local:dm:alice" }?.turnCount ?? 0
            if turns == 3 { break }
            await Task.yield()
        }
        #expect(turns == 3)
        #expect(await d.sessionSnapshots().map(\.key) == ["local:dm:alice"])

        // A session with a message to replay comes back at the start whatever its age.
        store.markActive([], session: "local:dm:zoe")
        await store.flush()
        _ = try await store.append(message("left over", chat: "bob"), session: "local:dm:bob")
        let recovery = try await store.recover(policy: RecoveryPolicy(maxSessions: 1))
        #expect(recovery.sessions == [SessionRecord(key: "local:dm:zoe", turnCount: 1),
                                      SessionRecord(key: "local:dm:bob", turnCount: 1)])
        let all = try await store.recover(policy: RecoveryPolicy(maxSessions: 10))
        #expect(all.sessions.map(\.key) == ["local:dm:zoe", "local:dm:alice", "local:dm:bob"])
    }

    @Test("a restart restores the most recent sessions in their order: the least recently active is evicted first")
    func restoredOrder() async throws {
        let directory = makeTemporaryDirectory()
        let store = try openStore(directory)
        for key in ["old", "middle", "recent"] {
            store.markActive([], session: "local:dm:\(key)")
            await store.flush()
        }
        let recovery = try await store.recover(policy: RecoveryPolicy(maxSessions: 2))
        #expect(recovery.sessions.map(\.key) == ["local:dm:recent", "local:dm:middle"])
        let d = Dispatcher(config: try config("sessions: {max: 2}"), agent: EchoAgent(), clock: ManualClock(), store: store)
        await d.restore(recovery, outbox: Outbox())
        await d.markRunning()
        #expect(await d.snapshot.counters.sessions == 2)
        _ = await send(d, "hi", chat: "new")
        #expect(await d.sessionSnapshots().map(\.key) == ["local:dm:new", "local:dm:recent"])
    }
}
