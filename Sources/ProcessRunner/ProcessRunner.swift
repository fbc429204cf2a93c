import CGatewayShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs short commands (quick commands, agent helpers) so that they cannot hang or swamp the
/// daemon: each in its own process group, under a timeout that ends the whole group, with its
/// output capped, at most `maxConcurrent` at a time.
///
/// Safe to call from many tasks at once. Past the limit, `run` throws `.busy` at once rather than
/// queueing: a chat user gets "busy, try again" instead of a reply minutes later.
public final class ProcessRunner: Sendable {
    /// The limit now (`setMaxConcurrent` changes it).
    public var maxConcurrent: Int { limit.load(ordering: .relaxed) }
    private let limit: Atomic<Int>
    private let running = Atomic<Int>(0)
    private let reactor = Reactor.shared
    /// How groups are signalled once their leader exited; tests choose, the daemon detects.
    let groupSignals: GroupSignals

    public convenience init(maxConcurrent: Int = ProcessRunnerDefaults.maxConcurrent) {
        self.init(maxConcurrent: maxConcurrent, groupSignals: .detected)
    }

    init(maxConcurrent: Int, groupSignals: GroupSignals) {
        precondition(maxConcurrent > 0, "maxConcurrent must be positive")
        limit = Atomic(maxConcurrent)
        self.groupSignals = groupSignals
    }

    /// Changes the limit in place (a reload of `exec.max_concurrent`). Processes already running
    /// keep running and keep counting: after lowering it, `run` refuses (`.busy`) until fewer
    /// than the new limit run; raising it lets the next ones start at once. A new runner would
    /// start counting from zero, and the old one's processes would exceed the limit.
    public func setMaxConcurrent(_ maxConcurrent: Int) {
        precondition(maxConcurrent > 0, "maxConcurrent must be positive")
        limit.store(maxConcurrent, ordering: .releasing)
    }

    /// How many processes of this runner are running now.
    public var runningCount: Int { running.load(ordering: .relaxed) }

    /// Spawns `spec` and returns once its main process has ended: on its own, by the timeout
    /// (`timedOut` set; the result arrives by timeout + grace even if a grandchild holds the
    /// pipes), or by task cancellation (the group is killed and `CancellationError` thrown).
    /// Anything left of the group afterwards gets SIGTERM, then SIGKILL after the grace period.
    /// A program or working directory that is not there throws `.spawnFailed` here too, once the
    /// child that found out has exited.
    ///
    /// `running` is called, in the caller's isolation, once the process is started and before
    /// waiting for it: a caller can announce it (a drain, `STATUS=`) while its command runs.
    ///
    /// The spawn is done on the caller's thread (the event loop, the dispatcher) and does not
    /// wait for the child to reach execve; the child's exit and output are the reactor thread's,
    /// which resumes the caller once: one hop per command.
    public nonisolated(nonsending) func run(_ spec: ProcessSpec, running: () -> Void = {}) async throws -> ProcessResult {
        try Task.checkCancellation()
        try acquireSlot()
        let start = gw_monotonic_nsec()
        let process: SpawnedProcess
        do {
            process = try Spawner.spawn(spec)
        } catch {
            releaseSlot()
            throw error
        }
        let job = Job(
            id: reactor.makeJobID(), process: process, spec: spec,
            startNanos: start, groupSignals: groupSignals, onReaped: { [self] in releaseSlot() })
        let reactor = self.reactor
        running()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                job.continuation = continuation
                reactor.add(job)
            }
        } onCancel: {
            job.cancelRequested.store(true, ordering: .releasing)
            reactor.cancel(job)
        }
    }

    /// Takes a slot, or throws `.busy`.
    private func acquireSlot() throws {
        var current = running.load(ordering: .relaxed)
        while true {
            let maxConcurrent = limit.load(ordering: .acquiring)
            guard current < maxConcurrent else {
                throw ProcessRunnerError(
                    .busy, "\(current) commands are already running (limit \(maxConcurrent)); try again when one finishes")
            }
            let (exchanged, original) = running.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }

    private func releaseSlot() {
        running.subtract(1, ordering: .releasing)
    }
}

extension ProcessRunner {
    /// The environment a command gets when the caller names none of its own: a PATH, and
    /// nothing of the daemon's (no tokens, no `NOTIFY_SOCKET`, no `LISTEN_FDS`).
    public static let minimalEnvironment: [String: String] = ["PATH": ProcessRunnerDefaults.path]

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit: each running command holds three
    /// descriptors (two pipes and a pidfd). Children never inherit them (every fd past 2 is
    /// closed at spawn), so the higher limit does not leak into them. Returns the new soft limit.
    @discardableResult
    public static func raiseFileDescriptorLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
            _ = getrlimit(RLIMIT_NOFILE_VALUE, &limit)
        }
        return UInt64(limit.rlim_cur)
    }
}

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
