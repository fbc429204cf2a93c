import CGatewayShims
import NIOConcurrencyHelpers
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One thread, one epoll set, for every running child: pidfds say when a child exits, pipe ends
/// say when output arrives, and one timerfd, armed at the nearest deadline, says when a timeout
/// or kill grace runs out. No thread is blocked per child, no SIGCHLD handler is installed,
/// nothing polls with sleeps.
///
/// Callers register a job themselves (under the lock, then `epoll_ctl`), so a spawn costs the
/// reactor no wake-up of its own; the lock also guards every job's mutable state.
final class Reactor: @unchecked Sendable {
    static let shared = Reactor()

    private struct State {
        var jobs: [UInt64: Job] = [:]
        /// When the timerfd fires next (`.max` when it is not armed for anything we know of).
        var armedDeadline: UInt64 = .max
    }

    private enum Kind: UInt64 {
        case timer = 0, exit = 1, standardOutput = 2, standardError = 3
    }

    private let epollFD: Int32
    private let timerFD: Int32
    private let state = NIOLockedValueBox(State())
    /// Job ids are tokens in the one epoll set, so they are unique per reactor, not per runner.
    private let nextJobID = Synchronization.Atomic<UInt64>(1)
    /// Read buffer, used only under the `state` lock.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    private init() {
        epollFD = gw_epoll_create()
        timerFD = gw_timerfd()
        precondition(epollFD >= 0 && timerFD >= 0, "ProcessRunner: cannot create epoll/timerfd: errno \(errno)")
        gw_epoll_add(epollFD, timerFD, Kind.timer.rawValue)
        // Named, so `top -H`, perf and gdb tell it from the pool thread that started it.
        let created = gw_start_thread("gw-reactor", { context in
            Unmanaged<Reactor>.fromOpaque(context!).takeRetainedValue().loop()
        }, Unmanaged.passRetained(self).toOpaque())
        precondition(created == 0, "ProcessRunner: cannot start the reactor thread: \(created)")
    }

    func makeJobID() -> UInt64 {
        nextJobID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Starts watching a freshly spawned job. Its continuation must be set.
    ///
    /// The descriptors are registered under the lock: once the pidfd is in the epoll set, the
    /// reactor thread may reap the job and close its pipes; registering them after the lock
    /// (as before; ThreadSanitizer found it) read descriptors being closed, and could have put
    /// a number already reused by another open file into the set under this job's token.
    func add(_ job: Job) {
        state.withLockedValue { state in
            state.jobs[job.id] = job
            armTimer(&state, for: job.timeoutDeadline)
            if job.cancelRequested.load(ordering: .acquiring) { job.signalGroup(SIGKILL) }
            // Once: its exit is all it can say, and then it stays readable.
            gw_epoll_add_oneshot(epollFD, job.pidfd, job.id << 2 | Kind.exit.rawValue)
            gw_epoll_add(epollFD, job.standardOutput.fd, job.id << 2 | Kind.standardOutput.rawValue)
            gw_epoll_add(epollFD, job.standardError.fd, job.id << 2 | Kind.standardError.rawValue)
        }
    }

    /// Whether a job of leader `pid` is still looked after (running, or its group not yet done
    /// with): for tests that need the group's SIGKILL to be behind them.
    func isTracking(pid: pid_t) -> Bool {
        state.withLockedValue { state in state.jobs.values.contains { $0.pid == pid } }
    }

    /// Cancellation does not negotiate: SIGKILL to the group, then the usual reaping. A job not
    /// added yet sees its flag in `add`.
    func cancel(_ job: Job) {
        state.withLockedValue { state in
            if state.jobs[job.id] != nil && !job.exited { job.signalGroup(SIGKILL) }
        }
    }

    private func loop() {
        var tokens = [UInt64](repeating: 0, count: 64)
        while true {
            let count = tokens.withUnsafeMutableBufferPointer {
                gw_epoll_wait(epollFD, $0.baseAddress, Int32($0.count), -1)
            }
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("ProcessRunner: epoll_wait failed: errno \(errno)")
            }
            var finished: [(Job, Result<ProcessResult, any Error>)] = []
            state.withLockedValue { state in
                for index in 0..<Int(count) {
                    handle(token: tokens[index], state: &state, finished: &finished)
                }
            }
            // Resume outside the lock: the resumed task may call `run` again at once.
            for (job, outcome) in finished {
                job.onReaped()
                job.continuation?.resume(with: outcome)
                job.continuation = nil
            }
        }
    }

    private func handle(token: UInt64, state: inout State,
                        finished: inout [(Job, Result<ProcessResult, any Error>)]) {
        guard let kind = Kind(rawValue: token & 3) else { return }
        if kind == .timer {
            var expirations: UInt64 = 0
            _ = read(timerFD, &expirations, 8)
            state.armedDeadline = .max
            fireDeadlines(&state, now: gw_monotonic_nsec())
            return
        }
        guard let job = state.jobs[token >> 2] else { return }
        switch kind {
        case .standardOutput: readAvailable(&job.standardOutput, budget: 16)
        case .standardError: readAvailable(&job.standardError, budget: 16)
        case .exit:
            if let outcome = reap(job, &state) {
                finished.append((job, outcome))
            } else if !job.exited && job.pidfd >= 0 {
                // Readable, yet no status to read (never seen): watched again, not lost.
                gw_epoll_rearm_oneshot(epollFD, job.pidfd, token)
            }
        case .timer: break
        }
    }

    /// Reads what is there, at most `budget` chunks (level-triggered epoll calls again), and
    /// closes the pipe at end of file.
    private func readAvailable(_ capture: inout OutputCapture, budget: Int) {
        guard capture.isOpen else { return }
        for _ in 0..<budget {
            let n = read(capture.fd, scratch.baseAddress, scratch.count)
            if n > 0 {
                capture.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 || errno != EAGAIN { close(&capture.fd) }
            return
        }
    }

    /// Leaves the epoll set explicitly, then closes. (close() alone does not leave it while a
    /// concurrently spawning child still holds a copy of the fd: epoll would report it forever.)
    private func close(_ fd: inout Int32) {
        guard fd >= 0 else { return }
        gw_epoll_del(epollFD, fd)
        Glibc.close(fd)
        fd = -1
    }

    private func reap(_ job: Job, _ state: inout State) -> Result<ProcessResult, any Error>? {
        guard !job.exited else { return nil }
        var code: Int32 = 0
        var signal: Int32 = 0
        let kind = job.waitForExit(code: &code, signal: &signal)
        if kind == 0 { return nil }
        let waitError = kind < 0 ? errno : 0
        let end = gw_monotonic_nsec()
        job.exited = true
        // Its registration fired once and is disabled (EPOLLONESHOT): an exited (or held zombie)
        // leader's pidfd stays readable, and stays open while the group may need it
        // (`Job.signalGroup`). Its close drops the registration (or a concurrently spawning
        // child's close of its copy does: disabled, it never reports meanwhile).
        if job.groupSignals == .heldLeader { job.closePidfd() }  // the zombie holds the group, not the fd
        // What the shell wrote before it exited is in the pipes now. A background grandchild
        // may hold them open forever: take what is there and do not wait for end of file.
        readAvailable(&job.standardOutput, budget: 256)
        readAvailable(&job.standardError, budget: 256)
        close(&job.standardOutput.fd)
        close(&job.standardError.fd)

        // End the rest of the group: SIGTERM now, SIGKILL after the grace period if anything may
        // be left, then let go of the leader (see `GroupSignals`). The result does not wait.
        if job.groupMayRemain {
            state.jobs[job.id] = job
            job.signalGroup(SIGTERM)
            if job.killDeadline == nil { job.killDeadline = end.addingSaturated(job.graceNanos) }
            armTimer(&state, for: job.killDeadline!)
        } else {
            job.killDeadline = nil
            job.release()
            state.jobs[job.id] = nil
        }

        if waitError != 0 {
            return .failure(ProcessRunnerError.system(.waitFailed, waitError, "waitid(\(job.pid))"))
        }
        // Exited 127 before execve: the command never ran (its reason in the shared cell).
        if kind == 1 && code == 127, case let error = job.failure.errno, error != 0 {
            return .failure(SpawnFailure.error(error, job.executable))
        }
        if job.cancelRequested.load(ordering: .acquiring) {
            return .failure(CancellationError())
        }
        return .success(ProcessResult(
            pid: job.pid,
            termination: kind == 1 ? .exited(code) : .signaled(signal),
            timedOut: job.timedOut,
            standardOutput: job.standardOutput.captured,
            standardError: job.standardError.captured,
            duration: .nanoseconds(Int64(clamping: end &- job.startNanos))))
    }

    private func fireDeadlines(_ state: inout State, now: UInt64) {
        var nearest = UInt64.max
        for job in state.jobs.values {
            if !job.exited && !job.timedOut && now >= job.timeoutDeadline {
                job.timedOut = true
                job.signalGroup(SIGTERM)
                job.killDeadline = now.addingSaturated(job.graceNanos)
            }
            if let killDeadline = job.killDeadline, now >= killDeadline {
                // The leader is still running or a held zombie, or the pidfd names the group:
                // either way this cannot reach a group that merely reuses the number.
                job.signalGroup(SIGKILL)
                job.killDeadline = nil
                if job.exited {
                    job.release()
                    state.jobs[job.id] = nil
                }
            }
            if let deadline = job.nextDeadline { nearest = min(nearest, deadline) }
        }
        if nearest != .max { armTimer(&state, for: nearest) }
    }

    /// Moves the timer earlier when `deadline` comes before what it is armed for. (A timer armed
    /// for a job that ended early just fires once for nothing.)
    private func armTimer(_ state: inout State, for deadline: UInt64) {
        guard deadline < state.armedDeadline else { return }
        state.armedDeadline = deadline
        gw_timerfd_arm(timerFD, deadline)
    }
}
