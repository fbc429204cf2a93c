import CSystemd

/// The service watchdog (`WatchdogSec=`): how often to send `WATCHDOG=1`.
public enum Watchdog {
    /// Half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises, or nil when the watchdog is off
    /// or meant for another process (`WATCHDOG_PID`).
    public static func pingInterval() throws -> Duration? {
        var usec: UInt64 = 0
        let result = sd_watchdog_enabled(0, &usec)
        if result < 0 {
            throw SystemdError(.watchdogFailed, returned: result, "sd_watchdog_enabled")
        }
        guard result > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }
}
