/// The ranges the configuration's numbers must fall in. Each bound keeps a value away from what
/// would trap or wrap further on (a deadline of `now + 1e300 s`, a 2^64-byte output buffer, zero
/// slots for commands), while leaving far more room than any real setting needs. One place, so
/// the check and its error message cannot disagree.
package enum ConfigLimits {
    /// Every duration: timeouts, the drain, the webhook's replay window.
    package static let durations: ClosedRange<Duration> = .milliseconds(1) ... .seconds(30 * 86_400)
    /// `exec.max_concurrent`: commands running at once.
    package static let maxConcurrent: ClosedRange<Int> = 1...1024
    /// `exec.max_output`: bytes captured per stream of a command.
    package static let maxOutput: ClosedRange<Int> = 1...(64 << 20)
    /// `platforms.webhook.max_connections`: open HTTP connections at once.
    package static let webhookConnections: ClosedRange<Int> = 1...65_536
    /// `sessions.max`: sessions kept in memory (idle ones past it are evicted).
    package static let sessionsMax: ClosedRange<Int> = 1...10_000_000
    /// `agent.openai.history_turns`: earlier pairs sent with a turn.
    package static let historyTurns: ClosedRange<Int> = 0...1_000
    /// `agent.openai.max_tokens`.
    package static let maxTokens: ClosedRange<Int> = 1...1_000_000
    /// `agent.openai.retries`: attempts after the first, per endpoint.
    package static let retries: ClosedRange<Int> = 0...10

    /// "between 1ms and 30d", for error messages.
    package static func describe(_ range: ClosedRange<Duration>) -> String {
        "between \(DurationValue.describe(range.lowerBound)) and \(DurationValue.describe(range.upperBound))"
    }

    /// "from 1 to 1024", for error messages.
    package static func describe(_ range: ClosedRange<Int>) -> String {
        "from \(range.lowerBound) to \(range.upperBound)"
    }
}
