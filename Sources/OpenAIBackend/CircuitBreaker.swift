import GatewayCore

/// One endpoint's circuit breaker: after `threshold` failures in a row it opens, and turns are
/// told at once instead of waiting on a backend that is down; once `cooldown` has passed, one
/// trial request half-opens it, and that request's outcome closes it or opens it again.
struct CircuitBreaker: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        /// The cooldown is over; `trialRunning` while the one request that decides is under way.
        case halfOpen(trialRunning: Bool)
    }

    /// What a request may do now.
    enum Admission: Sendable, Equatable {
        case go
        /// The request is the half-open trial: its outcome decides for everyone.
        case trial
        /// Open (or a trial is running): try again after this long.
        case refused(retryIn: Duration)
    }

    static let defaultThreshold = 5
    static let defaultCooldown: Duration = .seconds(30)

    let threshold: Int
    let cooldown: Duration
    private(set) var state: State = .closed
    private(set) var consecutiveFailures = 0

    init(threshold: Int = Self.defaultThreshold, cooldown: Duration = Self.defaultCooldown) {
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
    }

    mutating func admit(now: ContinuousClock.Instant) -> Admission {
        switch state {
        case .closed:
            return .go
        case .open(let until):
            guard now >= until else { return .refused(retryIn: until - now) }
            state = .halfOpen(trialRunning: true)
            return .trial
        case .halfOpen(let trialRunning):
            if trialRunning { return .refused(retryIn: .seconds(1)) }
            state = .halfOpen(trialRunning: true)
            return .trial
        }
    }

    mutating func succeeded() {
        consecutiveFailures = 0
        state = .closed
    }

    mutating func failed(now: ContinuousClock.Instant) {
        consecutiveFailures += 1
        switch state {
        case .halfOpen:
            state = .open(until: now + cooldown)
        case .closed where consecutiveFailures >= threshold:
            state = .open(until: now + cooldown)
        case .closed, .open:
            break
        }
    }

    /// A trial that ended without a verdict (the turn was interrupted): the next request is the trial.
    mutating func abandoned(_ admission: Admission) {
        if admission == .trial, case .halfOpen = state { state = .halfOpen(trialRunning: false) }
    }

    /// As `GetStatus` says it (an open breaker past its cooldown already lets a trial through).
    func status(now: ContinuousClock.Instant) -> AgentEndpointStatus.Breaker {
        switch state {
        case .closed: .closed
        case .open(let until): now >= until ? .halfOpen : .open
        case .halfOpen: .halfOpen
        }
    }
}
