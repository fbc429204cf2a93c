import Logging
import NIOConcurrencyHelpers

/// Log lines that any local user can cause (a refused or dropped connection) at a bounded
/// rate: a peer that reconnects in a loop must not flood the journal. Past `burst` lines in an
/// `interval`, lines are counted instead, and the count is logged with the next line let through.
final class RateLimitedLog: Sendable {
    private struct Window {
        var start = ContinuousClock.now
        var lines = 0
        var suppressed = 0
    }

    private let burst: Int
    private let interval: Duration
    private let window = NIOLockedValueBox(Window())

    init(burst: Int = 10, interval: Duration = .seconds(10)) {
        self.burst = burst
        self.interval = interval
    }

    func log(_ logger: Logger, _ message: @autoclosure () -> String, _ metadata: Logger.Metadata,
             level: Logger.Level = .notice) {
        let now = ContinuousClock.now
        let suppressed: Int? = window.withLockedValue { state in
            if now - state.start >= interval {
                let dropped = state.suppressed
                state = Window(start: now, lines: 1, suppressed: 0)
                return dropped
            }
            guard state.lines < burst else {
                state.suppressed += 1
                return nil
            }
            state.lines += 1
            return 0
        }
        guard let suppressed else { return }
        let note = suppressed > 0 ? " (\(suppressed) similar lines not logged before this one)" : ""
        logger.log(level: level, "\(message())\(note)", metadata: metadata)
    }
}
