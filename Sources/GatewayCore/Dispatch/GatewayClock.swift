/// Time as the dispatcher sees it, so tests can drive the 30 s acknowledgement window and the
/// drain timeout without sleeping.
public protocol GatewayClock: Sendable {
    /// Monotonic time since an arbitrary origin.
    func now() -> Duration
    func sleep(for duration: Duration) async throws
}

/// The real monotonic clock.
public struct SystemClock: GatewayClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> Duration { ContinuousClock.now - origin }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
