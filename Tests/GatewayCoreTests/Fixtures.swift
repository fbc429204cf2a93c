import Foundation
import GatewayCore
import NIOConcurrencyHelpers

/// A clock the test moves by hand: the 30 s acknowledgement window and the drain timeout pass
/// without anyone sleeping.
final class ManualClock: GatewayClock, @unchecked Sendable {
    private struct Sleeper {
        let id: Int
        let requested: Duration
        let deadline: Duration
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Duration = .zero
        var sleepers: [Sleeper] = []
        var nextID = 0
        var cancelled: Set<Int> = []
        var sleepWaiters: [(Duration, CheckedContinuation<Void, Never>)] = []
    }

    private let state = NIOLockedValueBox(State())

    func now() -> Duration { state.withLockedValue { $0.now } }

    func sleep(for duration: Duration) async throws {
        let id = state.withLockedValue { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: [CheckedContinuation<Void, Never>] = state.withLockedValue { state in
                    if state.cancelled.contains(id) {
                        continuation.resume(throwing: CancellationError())
                        return []
                    }
                    state.sleepers.append(Sleeper(
                        id: id, requested: duration, deadline: state.now + duration, continuation: continuation))
                    let ready = state.sleepWaiters.filter { $0.0 == duration }.map(\.1)
                    state.sleepWaiters.removeAll { $0.0 == duration }
                    return ready
                }
                for waiter in ready { waiter.resume() }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLockedValue { state in
                state.cancelled.insert(id)
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time on and wakes every sleeper whose deadline has come.
    func advance(by duration: Duration) {
        let due: [Sleeper] = state.withLockedValue { state in
            state.now += duration
            let due = state.sleepers.filter { $0.deadline <= state.now }
            state.sleepers.removeAll { $0.deadline <= state.now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Returns once someone sleeps for exactly `duration` (a timer registered, not polled for).
    func waitForSleep(of duration: Duration) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLockedValue { state in
                if state.sleepers.contains(where: { $0.requested == duration }) { return true }
                state.sleepWaiters.append((duration, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

/// Collects the replies to one message (or one chat) and lets a test await them.
final class Replies: ReplySink, @unchecked Sendable {
    private struct State {
        var texts: [String] = []
        var waiters: [(Int, CheckedContinuation<[String], Never>)] = []
    }

    private let state = NIOLockedValueBox(State())

    func send(_ text: String) async {
        let ready: [(CheckedContinuation<[String], Never>, [String])] = state.withLockedValue { state in
            state.texts.append(text)
            let count = state.texts.count
            let ready = state.waiters.filter { $0.0 <= count }.map { ($0.1, state.texts) }
            state.waiters.removeAll { $0.0 <= count }
            return ready
        }
        for (waiter, texts) in ready { waiter.resume(returning: texts) }
    }

    var texts: [String] { state.withLockedValue { $0.texts } }

    /// The replies once there are at least `count`.
    func wait(for count: Int) async -> [String] {
        await withCheckedContinuation { continuation in
            let texts: [String]? = state.withLockedValue { state in
                if state.texts.count >= count { return state.texts }
                state.waiters.append((count, continuation))
                return nil
            }
            if let texts { continuation.resume(returning: texts) }
        }
    }
}

/// An agent standing in for the remote AI service: each turn says it started, then waits until
/// the test releases it (or it is cancelled), then answers.
final class GateAgent: AgentBackend, @unchecked Sendable {
    private struct State {
        var started: [AgentTurn] = []
        var cancelled: [String] = []
        var gates: [String: CheckedContinuation<Void, Never>] = [:]
        var released: Set<String> = []
        var startWaiters: [(Int, CheckedContinuation<Void, Never>)] = []
    }

    private let state = NIOLockedValueBox(State())

    var startedTurns: [AgentTurn] { state.withLockedValue { $0.started } }
    var cancelledTexts: [String] { state.withLockedValue { $0.cancelled } }

    func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLockedValue { state in
            state.started.append(turn)
            let count = state.started.count
            let ready = state.startWaiters.filter { $0.0 <= count }.map(\.1)
            state.startWaiters.removeAll { $0.0 <= count }
            return ready
        }
        for waiter in waiters { waiter.resume() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let go = state.withLockedValue { state in
                    if state.released.contains(turn.text) || Task.isCancelled { return true }
                    state.gates[turn.text] = continuation
                    return false
                }
                if go { continuation.resume() }
            }
        } onCancel: {
            let gate = state.withLockedValue { $0.gates.removeValue(forKey: turn.text) }
            gate?.resume()
        }
        if Task.isCancelled {
            state.withLockedValue { $0.cancelled.append(turn.text) }
            throw CancellationError()
        }
        await reply("answer: \(turn.text)")
        return .none
    }

    /// Lets the turn whose text is `text` finish.
    func release(_ text: String) {
        let gate = state.withLockedValue { state in
            state.released.insert(text)
            return state.gates.removeValue(forKey: text)
        }
        gate?.resume()
    }

    func waitForStarts(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLockedValue { state in
                if state.started.count >= count { return true }
                state.startWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

func config(_ yaml: String) throws -> GatewayConfig {
    let outcome = ConfigLoader.parse(yaml)
    guard outcome.errors.isEmpty else { throw ConfigError(file: "test", problems: outcome.problems) }
    return outcome.config
}

func message(_ text: String, user: String = "alice", chat: String = "c1", platform: String = "local",
             chatType: ChatType = .dm) -> InboundMessage {
    InboundMessage(platform: platform, chat: chat, chatType: chatType, user: user, text: text)
}

/// Sends one message and returns its replies once `handle` is done.
func send(_ dispatcher: Dispatcher, _ text: String, user: String = "alice", chat: String = "c1",
          platform: String = "local", chatType: ChatType = .dm) async -> [String] {
    let replies = Replies()
    await dispatcher.handle(message(text, user: user, chat: chat, platform: platform, chatType: chatType), replies: replies)
    return replies.texts
}
