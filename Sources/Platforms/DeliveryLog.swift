import Synchronization

/// Answers already given (or being worked out) by delivery id, for `window` after the answer.
///
/// Only answered entries expire: one still being worked out has waiters (retries of the same
/// `id`) that its answer must reach. Expiring it by the time of its first delivery, as this
/// used to, dropped those waiters (a retry hung forever) and let a later retry dispatch again.
final class DeliveryLog: Sendable {
    private enum Entry {
        case working([CheckedContinuation<[UInt8]?, Never>])
        case answered([UInt8])
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Answered ids, oldest answer first.
        var expiry: [(id: String, at: ContinuousClock.Instant)] = []
    }

    private let state = Mutex(State())
    private let window: Duration
    private let now: @Sendable () -> ContinuousClock.Instant

    init(window: Duration = WebhookConfiguration.deduplicationWindow,
         now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.window = window
        self.now = now
    }

    /// nil: first delivery, the caller works it out and calls `answer`. Otherwise the first
    /// answer, awaited if still being worked out. One critical section decides and, for a
    /// retry, registers the waiter: nothing can expire in between.
    func claim(_ id: String) async -> [UInt8]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[UInt8]?, Never>) in
            let ready: [UInt8]?? = state.withLock { state in
                expire(&state)
                switch state.entries[id] {
                case nil:
                    state.entries[id] = .working([])
                    return .some(nil)
                case .answered(let body)?:
                    return .some(body)
                case .working(var waiters)?:
                    waiters.append(continuation)
                    state.entries[id] = .working(waiters)
                    return .none
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func answer(_ id: String, _ body: [UInt8]) {
        let time = now()
        let waiters: [CheckedContinuation<[UInt8]?, Never>] = state.withLock { state in
            guard case .working(let waiters)? = state.entries[id] else { return [] }
            state.entries[id] = .answered(body)
            state.expiry.append((id, time))
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: body) }
    }

    /// Retries of `id` waiting for its first answer (for tests).
    func waiters(_ id: String) -> Int {
        state.withLock { state in
            if case .working(let waiters)? = state.entries[id] { waiters.count } else { 0 }
        }
    }

    private func expire(_ state: inout State) {
        let time = now()
        while let oldest = state.expiry.first, time - oldest.at > window {
            state.expiry.removeFirst()
            state.entries[oldest.id] = nil
        }
    }
}
