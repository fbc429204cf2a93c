import GatewayWire
import GatewayCore
import Logging
import NIOConcurrencyHelpers
import Systemd

/// What `STATUS=` says, kept from the dispatcher's events as they are published (`observe`):
/// counters change twice per exec quick command, and waking a task for each cost the reply of a
/// `SendMessage "/name"` ≈11 µs. A burst of changes costs one line, `coalescing` later.
final class StatusTracker: Sendable {
    static let coalescing: Duration = .milliseconds(250)

    private struct State {
        var current = GatewaySnapshot(state: .starting, counters: GatewayCounters())
        var lastLine = ""
        var flushPending = false
        var drainDeadline: ContinuousClock.Instant?
        var platformCount = 0
        var storeProblem: String?
        var restartNeeded: [String] = []
    }

    private let state = NIOLockedValueBox(State())
    private let notify: NotifyQueue
    /// One element per burst of changes; `coalesce()` turns each into a line `coalescing` later.
    private let bursts: AsyncStream<Void>
    private let burstContinuation: AsyncStream<Void>.Continuation

    init(notify: NotifyQueue) {
        self.notify = notify
        (bursts, burstContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Sends a line for each burst of changes, `coalescing` after its first change, until
    /// `finish()` (run by `NotifyService`, so no task outlives the daemon's services).
    func coalesce() async {
        for await _ in bursts {
            try? await Task.sleep(for: Self.coalescing)
            flush()
        }
    }

    /// Ends `coalesce()`.
    func finish() { burstContinuation.finish() }

    var lastLine: String { state.withLockedValue { $0.lastLine } }

    /// Why the state store is not what it should be (moved aside, unusable); the line says so
    /// while it lasts.
    var storeProblem: String? {
        get { state.withLockedValue { $0.storeProblem } }
        set { state.withLockedValue { $0.storeProblem = newValue } }
    }

    /// Keys a reload read but could not apply; the line says so while they wait for a restart.
    var restartNeeded: [String] {
        get { state.withLockedValue { $0.restartNeeded } }
        set { state.withLockedValue { $0.restartNeeded = newValue } }
    }

    /// Takes `snapshot` and the platforms serving (at READY=1, after a reload) as the truth and
    /// returns their line.
    func reset(to snapshot: GatewaySnapshot, platformCount: Int) -> String {
        state.withLockedValue { state in
            state.current = snapshot
            state.platformCount = platformCount
            state.lastLine = Self.line(state)
            return state.lastLine
        }
    }

    /// A stop or restart drain began: returns the line for STOPPING=1, and from now on every
    /// change of the counters pushes systemd's stop timeout past `deadline`.
    func beginDrain(until deadline: ContinuousClock.Instant, snapshot: GatewaySnapshot) -> String {
        let line = state.withLockedValue { state in
            state.drainDeadline = deadline
            state.current = snapshot
            state.lastLine = Self.line(state)
            return state.lastLine
        }
        extendStopTimeout()
        return line
    }

    /// Called by the dispatcher with each event, on its executor: must stay cheap.
    func follow(_ event: GatewayEvent) {
        var extend = false
        let schedule = state.withLockedValue { state -> Bool in
            switch event {
            case .stateChanged(let new): state.current.state = new
            case .countersChanged(let counters):
                state.current.counters = counters
                extend = state.current.state.refusesNewWork
            case .configReloaded: break
            default: return false
            }
            guard !state.flushPending else { return false }
            state.flushPending = true
            return true
        }
        if extend { extendStopTimeout() }
        if schedule { burstContinuation.yield() }
    }

    private func flush() {
        let line = state.withLockedValue { state -> String? in
            state.flushPending = false
            let line = Self.line(state)
            guard line != state.lastLine else { return nil }
            state.lastLine = line
            return line
        }
        if let line { notify.send { try $0.status(line) } }
    }

    /// While a stop or restart drain makes progress, systemd's stop timeout is pushed past the
    /// drain's own deadline, so a short TimeoutStopSec never kills a drain that is moving.
    private func extendStopTimeout() {
        guard let deadline = state.withLockedValue({ $0.drainDeadline }) else { return }
        let remaining = max(.zero, deadline - .now)
        notify.send { try $0.extendTimeout(by: remaining + GatewayConstants.stopTimeoutMargin) }
    }

    /// `Running: 1 platform, 0 turns, 0 exec`; `Draining (restart): 2 turns, 1 exec`; with
    /// `; state store /var/lib/gatewayd/state.db was corrupt (...)` after it while the store is
    /// not what it should be.
    private static func line(_ state: State) -> String {
        var line = stateLine(state.current, platforms: state.platformCount)
        if let problem = state.storeProblem { line += "; \(shortProblem(problem))" }
        if !state.restartNeeded.isEmpty { line += "; \(Wire.restartToApply(state.restartNeeded))" }
        return line
    }

    /// STATUS= is one short line: the problem's first clause (the log has all of it).
    static func shortProblem(_ problem: String) -> String {
        problem.split(separator: ";").first.map(String.init) ?? problem
    }

    private static func stateLine(_ snapshot: GatewaySnapshot, platforms: Int) -> String {
        let counters = snapshot.counters
        let turns = "\(counters.turnsInFlight) turn\(counters.turnsInFlight == 1 ? "" : "s"), \(counters.execRunning) exec"
        switch snapshot.state {
        case .running, .starting, .reloading:
            return "Running: \(platforms) platform\(platforms == 1 ? "" : "s"), \(turns)"
        case .draining(let reason): return "Draining (\(reason.rawValue)): \(turns)"
        case .stopping(let reason): return "Stopping (\(reason.rawValue)): \(turns)"
        }
    }
}
