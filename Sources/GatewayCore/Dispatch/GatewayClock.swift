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
