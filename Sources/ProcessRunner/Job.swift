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
    /// Open until the group is done with: it is how a group whose leader was reaped is signalled
    /// (`GroupSignals.pidfd`). -1 once closed.
    var pidfd: Int32
    let startNanos: UInt64
    let graceNanos: UInt64
    let groupSignals: GroupSignals
    var standardOutput: OutputCapture
    var standardError: OutputCapture
    /// SIGTERM goes to the group at this time unless the process exited first.
    var timeoutDeadline: UInt64
    /// SIGKILL goes to the group at this time (set once SIGTERM was sent).
    var killDeadline: UInt64?
    var timedOut = false
    /// The leader's exit status has been read (its result delivered). With
    /// `GroupSignals.heldLeader` it stays a zombie until `release()`.
    var exited = false
    /// The leader has been reaped (waited for without WNOWAIT): from here on its pid, and so the
    /// group's number, may belong to someone else.
    private(set) var leaderReaped = false
    var continuation: CheckedContinuation<ProcessResult, any Error>?
    /// Runs once the main process exited (frees the concurrency slot).
    let onReaped: @Sendable () -> Void
    let cancelRequested = Atomic<Bool>(false)
    /// Where the child says it never got to execve (read once reaped), and what it was to run.
    let failure: SpawnFailure
    let executable: String

    init(id: UInt64, process: SpawnedProcess, spec: ProcessSpec, startNanos: UInt64, groupSignals: GroupSignals,
         onReaped: @escaping @Sendable () -> Void) {
        self.id = id
        pid = process.pid
        pidfd = process.pidfd
        self.startNanos = startNanos
        self.groupSignals = groupSignals
        graceNanos = spec.killGrace.nanoseconds
        timeoutDeadline = startNanos.addingSaturated(spec.timeout.nanoseconds)
        standardOutput = OutputCapture(fd: process.standardOutput, limit: spec.outputLimit, onChunk: spec.onStandardOutput)
        standardError = OutputCapture(fd: process.standardError, limit: spec.outputLimit)
        self.onReaped = onReaped
        failure = process.failure
        executable = spec.executable
    }

    /// The next time the reactor must wake up for this job, if any.
    var nextDeadline: UInt64? {
        if let killDeadline { return killDeadline }
        return exited ? nil : timeoutDeadline
    }

    /// Whether the leader has exited: its status (kind 1 exited, 2 signalled, -1 error with errno,
    /// 0 still running). Reaps it, or leaves it a zombie, as `groupSignals` says.
    func waitForExit(code: inout Int32, signal: inout Int32) -> Int32 {
        let kind = gw_wait_exit(pid, groupSignals == .heldLeader ? 0 : 1, &code, &signal)
        if kind > 0 && groupSignals == .pidfd { leaderReaped = true }
        if kind < 0 { leaderReaped = true }  // nothing of it is left to hold
        return kind
    }

    /// Sends `signal` to the whole process group: through the leader's pidfd, or by number while
    /// the leader is known to hold that number (running, or a zombie not yet reaped).
    func signalGroup(_ signal: Int32) {
        switch groupSignals {
        case .pidfd:
            if pidfd >= 0 { _ = gw_pidfd_signal_group(pidfd, signal) }
        case .heldLeader:
            if !leaderReaped { kill(-pid, signal) }
        }
    }

    /// Whether anything of the group may still be there once the leader exited. Through the pidfd
    /// the kernel can say (the leader is gone from the group); by number the zombie leader is
    /// itself a member, so the answer is "maybe" and the group gets the full SIGTERM/SIGKILL.
    var groupMayRemain: Bool {
        switch groupSignals {
        case .pidfd: pidfd >= 0 && gw_pidfd_signal_group(pidfd, 0) == 0
        case .heldLeader: !leaderReaped
        }
    }

    /// Done with the group: reaps a held leader, closes the pidfd.
    func release() {
        if groupSignals == .heldLeader && !leaderReaped {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            leaderReaped = true
        }
        closePidfd()
    }

    /// Closes the pidfd (the reactor takes it out of its epoll set first).
    func closePidfd() {
        if pidfd >= 0 {
            Glibc.close(pidfd)
            pidfd = -1
        }
    }
}

/// How a command's process group is signalled after its leader has exited, so that a SIGKILL
/// sent a grace period later can never hit a group that merely reuses the number.
///
/// A process group's id is its leader's pid. Once the leader is reaped and the rest of the group
/// has exited too, the number is free: a new process may get it and lead a group of its own, and
/// `kill(-pgid, SIGKILL)` would then kill a stranger (the reaper used to do exactly that, by
/// number, up to a grace period after reaping the shell). Two sound ways, chosen once per process:
/// - `pidfd` (Linux 6.9+): `pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP)` through the leader's
///   pidfd, kept open until the group is done. The kernel signals the group of that struct pid,
///   not of a number: once the group is empty it answers ESRCH, whoever has the number now. The
///   leader is reaped at once, and a group found empty costs nothing more.
/// - `heldLeader` (older kernels): the leader's status is read with WNOWAIT and the leader is
///   left a zombie until the group's SIGKILL has been sent. A zombie keeps its pid and its group
///   id, so the number cannot be reused while it is signalled. The cost: every command's leader
///   stays a zombie for the kill grace (the runner cannot tell a group holding only the zombie
///   from one with members left), and its group gets a SIGTERM that usually reaches no one.
enum GroupSignals: Sendable, Equatable {
    case pidfd
    case heldLeader

    /// `pidfd` where the kernel knows PIDFD_SIGNAL_PROCESS_GROUP: it checks the flags before the
    /// descriptor, so -1 as the descriptor answers EBADF with the flag known, EINVAL without.
    static let detected: GroupSignals = gw_pidfd_signal_group(-1, 0) < 0 && errno == EBADF ? .pidfd : .heldLeader
}

extension Duration {
    /// Whole nanoseconds, clamped at zero and saturated at UInt64.max (≈584 years): a duration
    /// that large means "never", not a wrapped-around deadline in the past.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole.addingSaturated(UInt64(attoseconds / 1_000_000_000))
    }
}

extension UInt64 {
    /// `self + other`, or UInt64.max where that would wrap (a deadline that far is never).
    func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
