import NIOConcurrencyHelpers
import Synchronization

/// One queue of deliveries per chat, each run in order by a task that exists only while its
/// queue has work. Once a reply is in the ledger the ledger answers for it: the turn that made
/// it goes on (and its message leaves the durable queue) while the platform takes its time
/// (a 429's wait, a flood limit), and the chat's replies still arrive in the order they were made.
package final class DeliveryLanes: Sendable {
    private struct Lane {
        var work: [@Sendable () async -> Void] = []
    }

    private let lanes = NIOLockedValueBox<[String: Lane]>([:])
    /// `waitUntilIdle` callers, resumed when the last lane ends.
    private let idleWaiters = NIOLockedValueBox<[Int: CheckedContinuation<Void, Never>]>([:])
    private let nextWaiter = Synchronization.Atomic<Int>(0)

    package init() {}

    /// Chats with deliveries waiting or under way.
    package var active: Int { lanes.withLockedValue { $0.count } }

    /// Deliveries waiting for `chat` (not counting the one under way).
    package func waiting(_ chat: String) -> Int { lanes.withLockedValue { $0[chat]?.work.count ?? 0 } }

    /// Deliveries a chat may have waiting before the next one is awaited by its caller: a
    /// platform that is away slows the turns that reply to it, instead of replies piling up in
    /// memory (they are in the ledger either way).
    package static let maxWaiting = 64

    /// The lane of a chat.
    package static func key(_ address: ChatAddress) -> String { address.platform + "\u{0}" + address.chat }

    /// Runs `work` after everything enqueued before it for `chat`; returns at once, unless the
    /// chat already has `maxWaiting` deliveries waiting: then once `work` ran, or once the caller
    /// is cancelled (a `/stop`, the drain's interrupt: the work stays queued, the turn ends).
    package func enqueue(_ chat: String, _ work: @escaping @Sendable () async -> Void) async {
        guard waiting(chat) >= Self.maxWaiting else { return start(chat, work) }
        let waiter = CancellableWaiter()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                start(chat) {
                    await work()
                    waiter.resume()
                }
                waiter.set(done)
            }
        } onCancel: {
            waiter.cancel()
        }
    }

    private func start(_ chat: String, _ work: @escaping @Sendable () async -> Void) {
        let start = lanes.withLockedValue { lanes -> Bool in
            if lanes[chat] != nil {
                lanes[chat]!.work.append(work)
                return false
            }
            lanes[chat] = Lane()
            return true
        }
        guard start else { return }
        Task {
            await work()
            while let next = self.next(chat) { await next() }
        }
    }

    /// The lane's next work, or nil after removing the empty lane.
    private func next(_ chat: String) -> (@Sendable () async -> Void)? {
        let (work, idle) = lanes.withLockedValue { lanes -> ((@Sendable () async -> Void)?, Bool) in
            guard var lane = lanes[chat], !lane.work.isEmpty else {
                lanes[chat] = nil
                return (nil, lanes.isEmpty)
            }
            let work = lane.work.removeFirst()
            lanes[chat] = lane
            return (work, false)
        }
        if idle { resumeIdleWaiters() }
        return work
    }

    private func resumeIdleWaiters() {
        let waiters = idleWaiters.withLockedValue { waiters in
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no delivery waits or runs (true), or after `limit` (false): a stop lets the
    /// replies of finished turns go out before it stops the adapters.
    package func waitUntilIdle(within limit: Duration) async -> Bool {
        let id = nextWaiter.wrappingAdd(1, ordering: .relaxed).oldValue
        let timer = Task {
            guard (try? await Task.sleep(for: limit)) != nil else { return }
            self.idleWaiters.withLockedValue { $0.removeValue(forKey: id) }?.resume()
        }
        let deadline = ContinuousClock.now + limit
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // Registered under the lanes' lock: the last lane cannot end unseen in between; and
            // not at all past the deadline (the timer may have fired before this registration).
            let idle = lanes.withLockedValue { lanes -> Bool in
                guard !lanes.isEmpty, ContinuousClock.now < deadline else { return true }
                idleWaiters.withLockedValue { $0[id] = continuation }
                return false
            }
            if idle { continuation.resume() }
        }
        timer.cancel()
        return active == 0
    }
}

/// A continuation resumed once: by `resume`, or by `cancel` (also when it came first).
private final class CancellableWaiter: Sendable {
    private let state = NIOLockedValueBox<(continuation: CheckedContinuation<Void, Never>?, done: Bool)>((nil, false))

    func set(_ continuation: CheckedContinuation<Void, Never>) {
        let now = state.withLockedValue { state -> Bool in
            if state.done { return true }
            state.continuation = continuation
            return false
        }
        if now { continuation.resume() }
    }

    func resume() {
        state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.done = true
            return state.continuation.take()
        }?.resume()
    }

    func cancel() { resume() }
}
