#if canImport(Glibc)
import Glibc
#endif

/// Time as the dispatcher sees it, so tests can drive the 30 s acknowledgement window and the
/// drain timeout without sleeping.
package protocol GatewayClock: Sendable {
    /// Monotonic time since an arbitrary origin.
    func now() -> Duration
    func sleep(for duration: Duration) async throws
}

/// The real monotonic clock.
package struct SystemClock: GatewayClock {
    private let origin = ContinuousClock.now

    package init() {}

    package func now() -> Duration { ContinuousClock.now - origin }

    package func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

/// Wall-clock time, for what is recorded or shown as a date (the store's rows, when a
/// configuration was applied).
package enum WallClock {
    /// Microseconds since the epoch.
    package static func microseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }
}
