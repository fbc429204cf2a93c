import Foundation
import GatewayCore
import GatewayTestSupport
import StateStore
import NIOConcurrencyHelpers
import Testing

/// Replies that no request waits for, collected per chat, with the addresses they went to.
final class Outbox: ChatOutbox, @unchecked Sendable {
    let replies = Replies()
    private let sent = NIOLockedValueBox<[ChatAddress]>([])
    var addresses: [ChatAddress] { sent.withLockedValue { $0 } }

    func send(_ text: String, to chat: ChatAddress) async {
        sent.withLockedValue { $0.append(chat) }
        await replies.send("\(chat.chat): \(text)")
    }
}

private func openStore(_ directory: String, busyTimeout: Int32 = 2_000) throws -> StateStore {
    try #require(StateStore.open(directory: directory, busyTimeoutMilliseconds: busyTimeout).store)
}

/// A new process on the same state directory: a fresh dispatcher that restores what was stored.
private func restart(_ directory: String, _ yaml: String, agent: any AgentBackend = EchoAgent()) async throws
    -> (Dispatcher, Outbox, StoreRecovery, StateStore) {
    let store = try openStore(directory)
    let d = Dispatcher(config: try config(yaml), agent: agent, clock: ManualClock(), store: store)
    let recovery = try await store.recover(policy: RecoveryPolicy())
    let outbox = Outbox()
    await d.restore(recovery, outbox: outbox)
    await d.markRunning()
    return (d, outbox, recovery, store)
}

/// Returns once no turn runs and nothing is queued (the replays are through, done marks sent).
private func waitUntilIdle(_ d: Dispatcher) async {
    let events = await d.subscribe()
    func idle(_ counters: GatewayCounters) -> Bool { counters.turnsInFlight == 0 && counters.queued == 0 }
    if idle(await d.snapshot.counters) { return }
    for await event in events {
        if case .countersChanged(let counters) = event, idle(counters) { return }
    }
}

@Suite("Durable queue", .timeLimit(.minutes(1)))
struct DurableQueueTests {
    @Test("queued messages outlive the process: replayed once, in order, after the one in flight")
    func replayAfterCrash() async throws {
        let directory = makeTemporaryDirectory()
        let agent = GateAgent()
        let store = try openStore(directory)
        let d = Dispatcher(config: try config("busy_input_mode: queue"), agent: agent, clock: ManualClock(), store: store)
        await d.markRunning()
        let first = Task { await send(d, "one") }
        await agent.waitForStarts(1)
        #expect(await send(d, "two") == [GatewayText.queuedAck])
        #expect(await send(d, "three").isEmpty, "acknowledged once per 30 s")
        #expect(await d.sessionSnapshots().first?.queued == 2)
        await store.flush()
        // The process dies here: "one" never finished, "two" and "three" wait.
        let (again, outbox, recovery, store2) = try await restart(directory, "busy_input_mode: queue")
        #expect(recovery.replay.map(\.message.text) == ["one", "two", "three"])
        #expect(recovery.replay.first?.attempts == 1)
        #expect(await outbox.replies.wait(for: 3) == ["c1: echo: one", "c1: echo: two", "c1: echo: three"])
        #expect(await again.sessionSnapshots().first?.turnCount == 4, "the crashed turn, then three")
        // Done ones are gone: a third start has nothing to replay.
        await waitUntilIdle(again)
        await store2.flush()
        let (_, _, third, _) = try await restart(directory, "")
        #expect(third.replay.isEmpty)
        for text in ["one", "two", "three"] { agent.release(text) }
        _ = await first.value
    }

    @Test("what finished is not replayed; a drain-interrupted turn is retried once after the restart")
    func finishedAndInterrupted() async throws {
        let directory = makeTemporaryDirectory()
        let agent = GateAgent()
        let store = try openStore(directory)
        let d = Dispatcher(config: try config("drain: {timeout: 5}"), agent: agent, clock: ManualClock(), store: store)
        await d.markRunning()
        agent.release("done before")
        #expect(await send(d, "done before") == ["answer: done before"])
        let cut = Task { await send(d, "cut short", chat: "c2") }
        await agent.waitForStarts(2)
        await d.beginDrain(.restart)
        await d.interruptTurnsNow()
        #expect(await cut.value == [GatewayText.interruptedByDrain(restart: true)])
        await d.waitUntilDrained()
        await store.flush()
        let (_, outbox, recovery, _) = try await restart(directory, "")
        #expect(recovery.replay.map(\.message.text) == ["cut short"])
        #expect(await outbox.replies.wait(for: 1) == ["c2: echo: cut short"])
    }

    @Test("a restart drain queues a busy session's message durably; it is answered after the restart")
    func queuedDuringRestartDrain() async throws {
        let directory = makeTemporaryDirectory()
        let agent = GateAgent()
        let store = try openStore(directory)
        let d = Dispatcher(config: try config("drain: {timeout: 60}"), agent: agent, clock: ManualClock(), store: store)
        await d.markRunning()
        let turn = Task { await send(d, "long task") }
        await agent.waitForStarts(1)
        #expect(await send(d, "/restart") == [GatewayText.drainingBeforeRestart(1)])
        #expect(await send(d, "follow up") == [GatewayText.queuedForRestart])
        #expect(await send(d, "stranger's hello", chat: "idle").first == GatewayText.draining("restarting"),
                "an idle session is still refused: nothing would run it before the restart")
        agent.release("long task")
        #expect(await turn.value == ["answer: long task"])
        await d.waitUntilDrained()
        #expect(agent.startedTurns.map(\.text) == ["long task"], "nothing new starts during the drain")
        await store.flush()
        let (_, outbox, recovery, _) = try await restart(directory, "")
        #expect(recovery.restartNotices == [ChatAddress(platform: "local", chat: "c1")])
        let delivered = await outbox.replies.wait(for: 2)
        #expect(Set(delivered) == ["c1: \(GatewayText.restartedSuccessfully)", "c1: echo: follow up"])
    }

    @Test("database locked by another process: agent messages get a clear error, exec quick commands answer")
    func lockedDatabase() async throws {
        let directory = makeTemporaryDirectory()
        let store = try openStore(directory, busyTimeout: 300)
        let d = Dispatcher(config: try config("quick_commands: {up: {type: exec, command: 'echo up'}}"),
                           agent: EchoAgent(), clock: ManualClock(), store: store)
        await d.markRunning()
        #expect(await send(d, "before") == ["echo: before"])
        let holder = try await SQLiteLockHolder(database: directory + "/state.db")
        // While the agent message waits for the lock, the exec quick command answers at once.
        let blocked = Task { await send(d, "while locked") }
        #expect(await send(d, "/up") == ["up"])
        let refused = await blocked.value
        #expect(refused.count == 1)
        #expect(refused.first?.hasPrefix("⚠️ Your message was not taken: the state store is locked by another process") == true)
        try await holder.release()
        #expect(await send(d, "after") == ["echo: after"])
    }

    @Test("a burst of concurrent messages to one session: the durable order is the order they run in")
    func burstOrder() async throws {
        let directory = makeTemporaryDirectory()
        let agent = GateAgent()
        let store = try openStore(directory)
        let d = Dispatcher(config: try config("busy_input_mode: queue"), agent: agent, clock: ManualClock(), store: store)
        await d.markRunning()
        let first = Task { await send(d, "first") }
        await agent.waitForStarts(1)
        await withTaskGroup(of: Void.self) { group in
            for n in 0..<20 { group.addTask { _ = await send(d, "m\(n)") } }
        }
        await store.flush()
        let (_, _, recovery, _) = try await restart(directory, "", agent: GateAgent())
        let durableOrder = recovery.replay.map(\.message.text).filter { $0 != "first" }
        #expect(durableOrder.count == 20)
        // Now let the original process run its in-memory queue.
        for text in ["first"] + durableOrder { agent.release(text) }
        await agent.waitForStarts(21)
        #expect(agent.startedTurns.map(\.text).dropFirst().elementsEqual(durableOrder))
        _ = await first.value
    }

    @Test("a message given up on is not replayed, and its chat is told why")
    func abandonedIsReported() async throws {
        let directory = makeTemporaryDirectory()
        let store = try openStore(directory)
        let id = try await store.append(message("the risky one", chat: "c9"), session: "local:dm:c9")
        // Two drains in a row cut its turn short.
        for _ in 0..<2 {
            _ = try await store.recover(policy: RecoveryPolicy())
            store.markActive([id], session: "local:dm:c9")
            store.markInterrupted([id])
        }
        await store.flush()
        let agent = GateAgent()
        let (d, outbox, recovery, _) = try await restart(directory, "", agent: agent)
        #expect(recovery.replay.isEmpty)
        #expect(await outbox.replies.wait(for: 1) == [
            "c9: " + GatewayText.abandoned(.interruptedAgain, text: "the risky one", attempts: 2),
        ])
        #expect(await d.sessionSnapshots().first { $0.key == "local:dm:c9" }?.turnCount == 2)
        #expect(agent.startedTurns.isEmpty)
    }

    @Test("after a restart, replies to a direct chat carry its sender's identity (replayed turn, abandoned and restart notices); a channel's none")
    func identityAcrossRestart() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try openStore(directory)
        let alice = InboundMessage(platform: "irc", chat: "alice", user: "alice", text: "question",
                                   account: "alice", hostmask: "alice!~a@h")
        let channel = InboundMessage(platform: "irc", chat: "#ops", chatType: .group, user: "bob", text: "for the channel",
                                     sessionPerUser: false, account: "bob", hostmask: "bob!~b@h")
        let carol = InboundMessage(platform: "irc", chat: "carol", user: "carol", text: "risky", hostmask: "carol!~c@h")
        _ = try await store.append(alice, session: alice.sessionKey)
        _ = try await store.append(channel, session: channel.sessionKey)
        let risky = try await store.append(carol, session: carol.sessionKey)
        for _ in 0..<2 {
            _ = try await store.recover(policy: RecoveryPolicy())
            store.markActive([risky], session: carol.sessionKey)
            store.markInterrupted([risky])
        }
        let d = Dispatcher(config: try config(#"access: {allowed_users: ["irc:*"], admins: ["irc:~dave"]}"#),
                           agent: EchoAgent(), clock: ManualClock(), store: store)
        await d.markRunning()
        let replies = Replies()
        await d.handle(InboundMessage(platform: "irc", chat: "dave", user: "dave", text: "/restart", account: "dave",
                                      hostmask: "dave!~d@h"), replies: replies)
        #expect(replies.texts == [GatewayText.restarting])
        await store.flush()
        let (_, outbox, _, _) = try await restart(directory, "")
        #expect(await outbox.replies.wait(for: 4).count == 4)
        #expect(Set(outbox.addresses) == [
            ChatAddress(platform: "irc", chat: "alice", account: "alice", hostmask: "alice!~a@h"),
            ChatAddress(platform: "irc", chat: "#ops"),
            ChatAddress(platform: "irc", chat: "carol", hostmask: "carol!~c@h"),
            ChatAddress(platform: "irc", chat: "dave", account: "dave", hostmask: "dave!~d@h"),
        ])
    }

    @Test("/reset and /stop drop what the session had waiting, in the store too")
    func resetForgets() async throws {
        let directory = makeTemporaryDirectory()
        let agent = GateAgent()
        let store = try openStore(directory)
        let d = Dispatcher(config: try config("busy_input_mode: queue"), agent: agent, clock: ManualClock(), store: store)
        await d.markRunning()
        let turn = Task { await send(d, "one") }
        await agent.waitForStarts(1)
        _ = await send(d, "two")
        #expect(await send(d, "/stop") == [GatewayText.stopped])
        _ = await turn.value
        await store.flush()
        #expect(try await store.recover(policy: RecoveryPolicy()).replay.isEmpty)
    }
}
