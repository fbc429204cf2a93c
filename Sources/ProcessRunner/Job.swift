import CGatewayShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A running child as the reactor sees it. Created by the caller, then owned by the reactor
/// thread; only `cancelRequested` is touched from both sides.
final class Job: @unchecked Sendable {
    let id: UInt64
    let pid: pid_t
    let pidfd: Int32
    let startNanos: UInt64
    let graceNanos: UInt64
    var standardOutput: OutputCapture
    var standardError: OutputCapture
    /// SIGTERM goes to the group at this time unless the process was reaped first.
    var timeoutDeadline: UInt64
    /// SIGKILL goes to the group at this time (set once SIGTERM was sent).
    var killDeadline: UInt64?
    var timedOut = false
    var reaped = false
    /// Its descriptors are in the reactor's epoll set (not so when it was reaped at once).
    var watched = false
    var continuation: CheckedContinuation<ProcessResult, any Error>?
    /// Runs once the main process is reaped (frees the concurrency slot).
    let onReaped: @Sendable () -> Void
    let cancelRequested = Atomic<Bool>(false)

    init(id: UInt64, process: SpawnedProcess, spec: ProcessSpec, startNanos: UInt64,
         onReaped: @escaping @Sendable () -> Void) {
        self.id = id
        pid = process.pid
        pidfd = process.pidfd
        self.startNanos = startNanos
        graceNanos = spec.killGrace.nanoseconds
        timeoutDeadline = startNanos &+ spec.timeout.nanoseconds
        standardOutput = OutputCapture(fd: process.standardOutput, limit: spec.outputLimit)
        standardError = OutputCapture(fd: process.standardError, limit: spec.outputLimit)
        self.onReaped = onReaped
    }

    /// The next time the reactor must wake up for this job, if any.
    var nextDeadline: UInt64? {
        if let killDeadline { return killDeadline }
        return reaped ? nil : timeoutDeadline
    }

    /// Sends `signal` to the whole process group (the group id is the child's pid).
    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }

    /// Whether any process of the group is still there (zombies included).
    var groupExists: Bool { kill(-pid, 0) == 0 }
}

extension Duration {
    /// Whole nanoseconds, clamped at zero.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
