import GatewayCore
import NIOCore
import NIOConcurrencyHelpers

/// `GET /healthz`'s question: does the dispatcher answer a ping within a limit? At most one ping
/// is in flight, whoever asks: callers that come while it waits share its answer, and each stops
/// waiting at its own deadline (an event loop timer, no task). A wedged dispatcher so costs one
/// ping's task however often a client asks, not one per request.
final class LivenessProbe: Sendable {
    private struct State {
        var pinging = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextID: UInt64 = 0
    }

    private let dispatcher: Dispatcher
    private let timers: any EventLoop
    private let state = NIOLockedValueBox(State())

    init(dispatcher: Dispatcher, timers: any EventLoop) {
        self.dispatcher = dispatcher
        self.timers = timers
    }

    func answers(within limit: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let (id, ping) = state.withLockedValue { state in
                defer { state.nextID += 1 }
                state.waiters[state.nextID] = continuation
                let ping = !state.pinging
                state.pinging = true
                return (state.nextID, ping)
            }
            if ping {
                let dispatcher = self.dispatcher
                Task { self.answerAll(await dispatcher.ping()) }
            }
            timers.scheduleTask(in: .nanoseconds(Int64(DurationValue.microseconds(limit)) * 1000)) { self.timeOut(id) }
        }
    }

    private func answerAll(_ alive: Bool) {
        let waiters = state.withLockedValue { state in
            defer { state.waiters = [:]; state.pinging = false }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: alive) }
    }

    private func timeOut(_ id: UInt64) {
        state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
    }
}
