import NIOConcurrencyHelpers

/// A count that tests (and the daemon) can wait on reaching a value: registrations, failed
/// connections, lines dropped or withheld.
final class WaitableCount: Sendable {
    private struct Waiter {
        let target: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var count = 0
        var nextID = 0
        var waiters: [Int: Waiter] = [:]
        /// Waits under way, and those of them whose time ran out before they were registered.
        var open: Set<Int> = []
        var expired: Set<Int> = []
    }

    private let state = NIOLockedValueBox(State())

    var value: Int { state.withLockedValue { $0.count } }

    func add(_ amount: Int = 1) {
        guard amount > 0 else { return }
        let ready = state.withLockedValue { state in
            state.count += amount
            let ready = state.waiters.filter { $0.value.target <= state.count }
            for id in ready.keys { state.waiters[id] = nil }
            return ready.values.map(\.continuation)
        }
        for waiter in ready { waiter.resume() }
    }

    /// Returns once the count is at least `target`, or after `limit` if one is given, or when
    /// the task is cancelled; true if it got there.
    @discardableResult
    func wait(for target: Int, within limit: Duration? = nil) async -> Bool {
        let id = state.withLockedValue { state in
            defer { state.nextID += 1 }
            state.open.insert(state.nextID)
            return state.nextID
        }
        let timer = limit.map { limit in
            Task {
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                self.expire(id)
            }
        }
        // A cancelled wait ends as one whose time ran out (a stop during the daemon's start
        // does not wait out the platforms' readiness).
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLockedValue { state in
                    if state.count >= target || state.expired.remove(id) != nil { return true }
                    state.waiters[id] = Waiter(target: target, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.expire(id)
        }
        timer?.cancel()
        return state.withLockedValue { state in
            state.open.remove(id)
            state.expired.remove(id)
            return state.count >= target
        }
    }

    private func expire(_ id: Int) {
        let waiter = state.withLockedValue { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                if state.open.contains(id) { state.expired.insert(id) }
                return nil as Waiter?
            }
            return waiter
        }
        waiter?.continuation.resume()
    }
}
