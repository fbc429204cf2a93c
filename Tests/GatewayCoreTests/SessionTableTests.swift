@testable import GatewayCore
import Testing

/// A reply sink that drops what it is given (the table never sends).
private struct NoReplies: ReplySink {
    func send(_ text: String) async {}
}

private func pending(_ text: String) -> PendingMessage {
    PendingMessage(message: message(text), replies: NoReplies())
}

private func runningTurn(_ id: UInt64) -> RunningTurn {
    RunningTurn(id: id, task: Task { false }, message: message("turn \(id)"), replies: NoReplies(), storeIDs: [],
                deadline: .seconds(600))
}

private func table(max: Int = 10_000, idleTimeout: Duration = .seconds(86_400)) -> SessionTable {
    SessionTable(limits: SessionsConfig(idleTimeout: idleTimeout, max: max))
}

/// The session table as a value: eviction order, idle timeout, busy sessions, counters. No
/// dispatcher, no tasks run; time is whatever the test says it is.
@Suite("Session table")
struct SessionTableTests {
    @Test("past max, the least recently active idle session goes first")
    func evictionOrder() {
        var sessions = table(max: 3)
        sessions.touch("a", now: .seconds(1))
        sessions.touch("b", now: .seconds(2))
        sessions.touch("c", now: .seconds(3))
        sessions.touch("a", now: .seconds(4))
        #expect(sessions.idleOrder == ["b", "c", "a"])
        #expect(sessions.touch("d", now: .seconds(5)) != nil)
        #expect(sessions.idleOrder == ["c", "a", "d"])
        #expect(!sessions.contains("b"))
        #expect(sessions.count == 3)
        #expect(sessions.evictions == 1)
        sessions.touch("e", now: .seconds(6))
        #expect(sessions.idleOrder == ["a", "d", "e"])
    }

    @Test("a busy session (running, starting, queued or held) is never evicted; it joins the idle list when its turn ends")
    func busyNeverEvicted() {
        var sessions = table(max: 2)
        sessions.touch("running", now: .seconds(1))
        sessions.startTurn("running", runningTurn(1))
        sessions.touch("queued", now: .seconds(2))
        sessions.enqueue("queued", pending("waits"))
        sessions.touch("held", now: .seconds(3))
        sessions.hold("held")
        sessions.touch("starting", now: .seconds(4))
        sessions.enqueue("starting", pending("next"))
        #expect(sessions.takeNext("starting")?.message.text == "next")
        #expect(sessions.idleOrder.isEmpty)
        sessions.touch("new", now: .seconds(5))
        #expect(sessions.count == 5, "nothing evictable: the bound gives way to busy sessions")
        #expect(Set(sessions.busyKeys) == ["running", "queued", "held", "starting"])
        sessions.touch("newer", now: .seconds(6))
        #expect(!sessions.contains("new"))
        #expect(sessions.count == 5)

        sessions.finishTurn("running", id: 2, now: .seconds(7))
        #expect(sessions["running"]?.turn != nil, "another turn's end does not end this one")
        sessions.finishTurn("running", id: 1, now: .seconds(7))
        sessions.release("held", now: .seconds(8))
        #expect(sessions.idleOrder == ["newer", "running", "held"])
        sessions.touch("last", now: .seconds(9))
        #expect(!sessions.contains("newer") && !sessions.contains("running") && !sessions.contains("held"),
                "down to max again, least recently active first")
        #expect(sessions.count == 3)
        #expect(sessions.idleOrder == ["last"])
    }

    @Test("turn states: idle -> starting -> running -> idle, with the turn count")
    func turnStates() {
        var sessions = table()
        sessions.touch("a", now: .zero)
        #expect(sessions.takeNext("a") == nil, "nothing queued")
        sessions.enqueue("a", pending("one"))
        sessions.enqueue("a", pending("two"))
        #expect(sessions.queued == 2)
        #expect(sessions.takeNext("a")?.message.text == "one")
        guard case .starting = sessions["a"]?.state else { Issue.record("not starting"); return }
        #expect(sessions.takeNext("a") == nil, "one turn at a time")
        sessions.startTurn("a", runningTurn(1))
        #expect(sessions["a"]?.turnCount == 1)
        #expect(sessions.queued == 1)
        sessions.updateTurn("a") { $0.timedOut = true }
        #expect(sessions["a"]?.turn?.timedOut == true)
        sessions.mergeIntoPending("a", pending("three"))
        #expect(sessions["a"]?.pending.map(\.message.text) == ["two\nthree"])
        #expect(sessions.clearPending("a", now: .seconds(1)).count == 1)
        #expect(sessions.queued == 0)
        #expect(sessions.idleOrder.isEmpty, "its turn still runs")
        sessions.finishTurn("a", id: 1, now: .seconds(2))
        guard case .idle = sessions["a"]?.state else { Issue.record("not idle"); return }
        #expect(sessions.idleOrder == ["a"])
        #expect(sessions.nextExpiry == .seconds(2 + 86_400), "idle since its turn ended")
    }

    @Test("idle timeout: evicted from the list's head once expired, not before")
    func idleTimeout() {
        var sessions = table(idleTimeout: .seconds(60))
        sessions.touch("a", now: .seconds(0))
        sessions.touch("b", now: .seconds(30))
        sessions.touch("busy", now: .seconds(0))
        sessions.enqueue("busy", pending("waits"))
        #expect(sessions.nextExpiry == .seconds(60))
        #expect(sessions.evictExpired(now: .seconds(59)) == 0)
        #expect(sessions.evictExpired(now: .seconds(60)) == 1)
        #expect(!sessions.contains("a"))
        #expect(sessions.nextExpiry == .seconds(90))
        sessions.touch("b", now: .seconds(80))
        #expect(sessions.evictExpired(now: .seconds(90)) == 0, "touched again: idle since 80")
        #expect(sessions.evictExpired(now: .seconds(10_000)) == 1)
        #expect(sessions.count == 1, "the busy session stays")
        #expect(sessions.nextExpiry == nil)
    }

    @Test("counters right after eviction, removal and reset; slots are reused")
    func counters() {
        var sessions = table(max: 2)
        sessions.touch("a", now: .seconds(1))
        sessions.enqueue("a", pending("one"))
        sessions.enqueue("a", pending("two"))
        sessions.touch("b", now: .seconds(2))
        sessions.touch("c", now: .seconds(3))
        #expect(!sessions.contains("b"))
        #expect(sessions.count == 2)
        #expect(sessions.queued == 2)
        sessions.reset("a", now: .seconds(4))
        #expect(sessions.queued == 0)
        #expect(sessions["a"]?.pending.isEmpty == true)
        #expect(sessions.idleOrder == ["c", "a"])
        sessions.enqueue("a", pending("three"))
        #expect(sessions.remove("a")?.pending.count == 1)
        #expect(sessions.queued == 0)
        #expect(sessions.count == 1)
        for index in 0..<100 { sessions.touch("s\(index)", now: .seconds(10 + index)) }
        #expect(sessions.count == 2)
        #expect(sessions.idleOrder == ["s98", "s99"])
        #expect(sessions.evictions == 100)
    }

    @Test("a lower max applies at once; a stored turn count lands only in the incarnation that asked")
    func applyAndAdopt() {
        var sessions = table(max: 10)
        for index in 0..<10 { sessions.touch("s\(index)", now: .seconds(index)) }
        #expect(sessions.apply(SessionsConfig(idleTimeout: .seconds(60), max: 4)) == 6)
        #expect(sessions.idleOrder == ["s6", "s7", "s8", "s9"])
        #expect(sessions.evictExpired(now: .seconds(67)) == 2)

        let first = sessions.touch("x", now: .seconds(70))!
        sessions.startTurn("x", runningTurn(1))
        sessions.adoptStoredTurns("x", generation: first, turnCount: 5)
        #expect(sessions["x"]?.turnCount == 6)
        sessions.finishTurn("x", id: 1, now: .seconds(71))
        let second = sessions.reset("x", now: .seconds(72))!
        sessions.adoptStoredTurns("x", generation: first, turnCount: 5)
        #expect(sessions["x"]?.turnCount == 0, "a late answer for the session before /new is ignored")
        #expect(second != first)
    }
}
