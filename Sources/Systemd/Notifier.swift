import CGatewayShims
import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// Tells the service manager about the daemon's lifecycle over the `sd_notify` protocol.
///
/// Every call is a no-op when `NOTIFY_SOCKET` was unset at init, so the daemon runs the same code
/// in a terminal and under systemd. When it is set, a failure to deliver is thrown, not swallowed:
/// a `Type=notify` unit whose `READY=1` is lost is killed by its start timeout, and the operator
/// needs the reason in the log.
public struct Notifier: Sendable {
    /// Whether notifications go anywhere (the manager gave this process a `NOTIFY_SOCKET`).
    public let isEnabled: Bool

    public init(environment: [String: String]) {
        isEnabled = !(environment[NotifyKey.socketVariable] ?? "").isEmpty
    }

    /// Reads `NOTIFY_SOCKET` from the live process environment.
    public init() {
        isEnabled = getenv(NotifyKey.socketVariable).map { $0.pointee != 0 } ?? false
    }

    /// `READY=1` with `MAINPID`, so the manager tracks this process even if it was started by a
    /// wrapper; `status` rides in the same datagram, so the unit never shows a stale line.
    public func ready(status: String? = nil) throws {
        var fields = [(NotifyKey.ready, "1"), (NotifyKey.mainPID, String(getpid()))]
        if let status { fields.append((NotifyKey.status, Self.oneLine(status))) }
        try send(fields)
    }

    /// `STATUS=`: one short human line (newlines would end the field, so they become spaces).
    public func status(_ text: String) throws {
        try send([(NotifyKey.status, Self.oneLine(text))])
    }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as systemd 253's `Type=notify-reload` requires and
    /// older managers accept; follow it with `ready()` once the reload is done or rejected.
    public func reloading(status: String? = nil) throws {
        var fields = [(NotifyKey.reloading, "1"), (NotifyKey.monotonicUsec, String(gw_monotonic_usec()))]
        if let status { fields.append((NotifyKey.status, Self.oneLine(status))) }
        try send(fields)
    }

    /// `STOPPING=1`: the manager shows `deactivating` and starts `TimeoutStopSec`.
    public func stopping(status: String? = nil) throws {
        var fields = [(NotifyKey.stopping, "1")]
        if let status { fields.append((NotifyKey.status, Self.oneLine(status))) }
        try send(fields)
    }

    /// `WATCHDOG=1`. Call only when the daemon has checked that it is really alive.
    public func watchdogPing() throws {
        try send([(NotifyKey.watchdog, "1")])
    }

    /// `EXTEND_TIMEOUT_USEC`: asks for this much more time, counted from now, before the manager's
    /// start/stop timeout fires. A drain sends it while it is still making progress.
    public func extendTimeout(by duration: Duration) throws {
        try send([(NotifyKey.extendTimeoutUsec, String(Self.microseconds(duration)))])
    }

    /// Sends fields in one datagram. Returns false when notification is off.
    @discardableResult
    public func send(_ fields: [(String, String)]) throws -> Bool {
        guard isEnabled else { return false }
        let payload = fields.map { "\($0.0)=\($0.1)" }.joined(separator: "\n")
        let result = sd_notify(0, payload)
        if result < 0 {
            throw SystemdError(.notifyFailed, returned: result, "sd_notify(\(fields.first?.0 ?? ""))")
        }
        return result > 0
    }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    /// Whole microseconds, clamped at zero and saturated at UInt64.max: a drain deadline from a
    /// huge timeout must ask for "forever", not trap the daemon on its way to stopping.
    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
        let (total, carried) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000))
        return overflow || carried ? .max : total
    }
}

/// The sd_notify wire names, in one place.
public enum NotifyKey {
    public static let socketVariable = "NOTIFY_SOCKET"
    public static let ready = "READY"
    public static let mainPID = "MAINPID"
    public static let status = "STATUS"
    public static let reloading = "RELOADING"
    public static let monotonicUsec = "MONOTONIC_USEC"
    public static let stopping = "STOPPING"
    public static let watchdog = "WATCHDOG"
    public static let extendTimeoutUsec = "EXTEND_TIMEOUT_USEC"
}
