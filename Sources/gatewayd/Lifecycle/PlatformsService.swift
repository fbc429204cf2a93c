import GatewayCore
import Logging
import ServiceLifecycle
import Varlink
import NIOConcurrencyHelpers

/// The network adapters for the service group's life: started when the group starts (their
/// messages wait at the gate until the daemon has replayed what the store kept), stopped at the
/// group's shutdown, which reaches them once the drain is over, with the drain's remaining time
/// to deliver what is queued. A reload changes them in between (`PlatformSet.apply`).
struct PlatformsService: Service {
    let platforms: PlatformSet
    let startup: AdapterStartup
    let plan: ShutdownPlan
    /// The ledger's deliveries: the replies of finished turns go out before the adapters stop.
    let lanes: DeliveryLanes

    func run() async throws {
        do {
            try await platforms.startAll()
        } catch {
            startup.report(failed: true)
            throw StartupFailed()
        }
        startup.report(failed: false)
        try? await gracefulShutdown()
        let window = plan.flushWindow, started = ContinuousClock.now
        _ = await lanes.waitUntilIdle(within: window)
        await platforms.stopAll(flushingWithin: max(.zero, window - (ContinuousClock.now - started)))
    }
}

/// The daemon's start waits here for every adapter to have started (or one to have failed).
final class AdapterStartup: Sendable {
    private struct State {
        var remaining: Int
        var failed = false
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }

    private let state: NIOLockedValueBox<State>

    init(count: Int) { state = NIOLockedValueBox(State(remaining: count)) }

    func report(failed: Bool) {
        let (waiters, ok) = state.withLockedValue { state -> ([CheckedContinuation<Bool, Never>], Bool) in
            state.remaining -= 1
            state.failed = state.failed || failed
            guard state.remaining == 0 || state.failed else { return ([], true) }
            defer { state.waiters = [] }
            return (state.waiters, !state.failed)
        }
        for waiter in waiters { waiter.resume(returning: ok) }
    }

    /// True once every adapter started; false as soon as one failed.
    func allStarted() async -> Bool {
        await withCheckedContinuation { continuation in
            let done = state.withLockedValue { state -> Bool? in
                if state.failed { return false }
                if state.remaining <= 0 { return true }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

/// What the end of the drain decided for the services shut down after it: why the daemon exits
/// (the exit status) and how long the adapters may still deliver queued replies.
final class ShutdownPlan: Sendable {
    private let state = NIOLockedValueBox<(reason: DrainReason, flushWindow: Duration)>((.stop, GatewayConstants.replyFlushMargin))

    var reason: DrainReason { state.withLockedValue { $0.reason } }
    var flushWindow: Duration { state.withLockedValue { $0.flushWindow } }

    func decide(reason: DrainReason, flushWindow: Duration) {
        state.withLockedValue { $0 = (reason, flushWindow) }
    }
}

/// A start that failed and was logged where it failed: the daemon exits with `status` (1, or 78
/// when another instance holds what it needs) without another line.
struct StartupFailed: Error {
    var status: Int32 = GatewayConstants.ExitStatus.failure
}
