/// Why the gateway is draining. Fixed names: they appear in `GetStatus` and the journal.
package enum DrainReason: String, Sendable, Equatable, CaseIterable {
    /// SIGTERM / `systemctl stop`: exit 0 once drained.
    case stop
    /// `/restart`, `gatewayctl restart`, SIGUSR1: exit 75 once drained, systemd starts it again.
    case restart
    /// `gatewayctl drain`: the process stays up; `resume` returns to running.
    case admin

    /// The word the drain reply uses: "Gateway is {gerund} ...".
    package var gerund: String {
        switch self {
        case .stop: "shutting down"
        case .restart: "restarting"
        case .admin: "draining"
        }
    }
}

/// The gateway's lifecycle. Fixed state names (`starting`, `running`, `reloading`, `draining`,
/// `stopping`); the legal moves are listed in `canMove(to:)`, and any other is a programming
/// error (`LifecycleMachine.move` traps), so a wrong sequence shows up in tests, not in production.
package enum GatewayState: Sendable, Equatable, CustomStringConvertible {
    case starting
    case running
    case reloading
    case draining(DrainReason)
    case stopping(DrainReason)

    package var name: String {
        switch self {
        case .starting: "starting"
        case .running: "running"
        case .reloading: "reloading"
        case .draining: "draining"
        case .stopping: "stopping"
        }
    }

    package var reason: DrainReason? {
        switch self {
        case .draining(let reason), .stopping(let reason): reason
        default: nil
        }
    }

    /// New agent work is refused (exec quick commands still run).
    package var refusesNewWork: Bool {
        switch self {
        case .draining, .stopping: true
        default: false
        }
    }

    package var description: String { reason.map { "\(name) (\($0.rawValue))" } ?? name }

    package func canMove(to next: GatewayState) -> Bool {
        switch (self, next) {
        case (.starting, .running), (.starting, .stopping):
            return true
        case (.running, .reloading), (.reloading, .running):
            return true
        case (.running, .draining), (.reloading, .draining):
            return true
        case (.draining(let current), .draining(let other)):
            // An admin drain may become a stop or restart; a stop or restart never softens.
            return current == .admin && other != .admin
        case (.draining(.admin), .running):
            return true  // resume
        case (.draining(let current), .stopping(let final)):
            return current == final
        case (.running, .stopping), (.reloading, .stopping):
            return true  // a second signal: stop at once
        default:
            return false
        }
    }
}

/// Holds the state and applies only legal moves.
package struct LifecycleMachine: Sendable {
    package private(set) var state: GatewayState = .starting

    package init() {}

    /// Moves to `next`; an illegal move is a programming error.
    package mutating func move(to next: GatewayState) {
        precondition(state.canMove(to: next), "illegal lifecycle move \(state) -> \(next)")
        state = next
    }

    /// Moves when legal, returning whether it did (for requests from outside, such as a second
    /// `Drain`, that may legitimately arrive in the wrong state).
    @discardableResult
    package mutating func moveIfLegal(to next: GatewayState) -> Bool {
        guard state.canMove(to: next) else { return false }
        state = next
        return true
    }
}
