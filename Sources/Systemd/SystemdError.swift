#if canImport(Glibc)
import Glibc
#endif

/// A failure talking to systemd, with the errno libsystemd reported so an operator can tell
/// "no such socket" from "permission denied" without reading source.
public struct SystemdError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// `sd_notify` returned an error: the message did not reach the manager.
        case notifyFailed = "notify_failed"
        /// `sd_listen_fds_with_names` failed (for example a malformed `LISTEN_FDS`).
        case listenFdsFailed = "listen_fds_failed"
        /// A passed descriptor is not the listening Unix stream socket the daemon expects.
        case unexpectedSocketType = "unexpected_socket_type"
        /// `sd_watchdog_enabled` could not parse `WATCHDOG_USEC`/`WATCHDOG_PID`.
        case watchdogFailed = "watchdog_failed"
    }

    public let code: Code
    /// The positive errno value, 0 when not applicable.
    public let errno: Int32
    public let message: String

    public init(_ code: Code, errno: Int32 = 0, _ message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }

    /// From a libsystemd return value, which is a negative errno on failure.
    init(_ code: Code, returned: Int32, _ what: String) {
        let err = -returned
        self.init(code, errno: err, "\(what): \(String(cString: strerror(err)))")
    }

    public var description: String { message }
}
