#if canImport(Glibc)
import Glibc
#endif

/// Why a process could not be run. `errno` carries the system's reason where there is one.
public struct ProcessRunnerError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// `maxConcurrent` processes are already running; nothing was queued.
        case busy
        /// posix_spawn failed (missing program, EAGAIN, ENOMEM, ...).
        case spawnFailed = "spawn_failed"
        /// Making the pipes or the pidfd failed (EMFILE, ENFILE, ...).
        case resourceExhausted = "resource_exhausted"
        /// The spec is unusable (empty argv, a NUL byte in an argument, ...).
        case invalidSpec = "invalid_spec"
        /// The process could not be reaped (someone else reaped it, or SIGCHLD is ignored).
        case waitFailed = "wait_failed"
    }

    public let code: Code
    public let errno: Int32
    public let message: String

    public init(_ code: Code, errno: Int32 = 0, _ message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }

    static func system(_ code: Code, _ errno: Int32, _ what: String) -> ProcessRunnerError {
        ProcessRunnerError(code, errno: errno, "\(what): \(String(cString: strerror(errno)))")
    }

    public var description: String { message }
}
