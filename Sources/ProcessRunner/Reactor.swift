import CGatewayShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One thread, one epoll set, for every running child: pidfds say when a child exits, pipe ends
/// say when output arrives, and epoll's timeout is the nearest deadline. No thread is blocked per
/// child, no SIGCHLD handler is installed, nothing polls with sleeps.
final class Reactor: @unchecked Sendable {
    enum Command {
        case add(Job)
        case cancel(Job)
    }

    static let shared = Reactor()

    private let epollFD: Int32
    private let wakeFD: Int32
    private let inbox = Mutex<[Command]>([])
    // Everything below is touched by the reactor thread only.
    private var jobs: [UInt64: Job] = [:]
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    private enum Kind: UInt64 {
        case wake = 0, exit = 1, standardOutput = 2, standardError = 3
    }

    private init() {
        epollFD = gw_epoll_create()
        wakeFD = gw_eventfd()
        precondition(epollFD >= 0 && wakeFD >= 0, "ProcessRunner: cannot create epoll/eventfd: errno \(errno)")
        gw_epoll_add(epollFD, wakeFD, Kind.wake.rawValue)
        let unmanaged = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            let reactor = Unmanaged<Reactor>.fromOpaque(argument!).takeRetainedValue()
            reactor.loop()
            return nil
        }, unmanaged.toOpaque())
        precondition(created == 0, "ProcessRunner: cannot start the reactor thread: \(created)")
        pthread_detach(thread)
    }

    func submit(_ command: Command) {
        inbox.withLock { $0.append(command) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func loop() {
        var tokens = [UInt64](repeating: 0, count: 64)
        while true {
            let count = tokens.withUnsafeMutableBufferPointer {
                gw_epoll_wait(epollFD, $0.baseAddress, Int32($0.count), waitTimeoutMilliseconds())
            }
            if count < 0 && errno != EINTR { fatalError("ProcessRunner: epoll_wait failed: errno \(errno)") }
            for index in 0..<max(0, Int(count)) {
                handle(token: tokens[index])
            }
            fireDeadlines(now: gw_monotonic_nsec())
        }
    }

    private func handle(token: UInt64) {
        guard let kind = Kind(rawValue: token & 3) else { return }
        if kind == .wake {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
            for command in inbox.withLock({ commands in defer { commands = [] }; return commands }) {
                switch command {
                case .add(let job): register(job)
                case .cancel(let job): cancel(job)
                }
            }
            return
        }
        guard let job = jobs[token >> 2] else { return }
        switch kind {
        case .standardOutput: drain(&job.standardOutput, budget: 16)
        case .standardError: drain(&job.standardError, budget: 16)
        case .exit: reap(job)
        case .wake: break
        }
    }

    private func register(_ job: Job) {
        jobs[job.id] = job
        gw_epoll_add(epollFD, job.pidfd, job.id << 2 | Kind.exit.rawValue)
        gw_epoll_add(epollFD, job.standardOutput.fd, job.id << 2 | Kind.standardOutput.rawValue)
        gw_epoll_add(epollFD, job.standardError.fd, job.id << 2 | Kind.standardError.rawValue)
        if job.cancelRequested.load(ordering: .acquiring) { cancel(job) }
    }

    /// Cancellation does not negotiate: SIGKILL to the group, then the usual reaping.
    private func cancel(_ job: Job) {
        guard jobs[job.id] != nil, !job.reaped else { return }
        job.signalGroup(SIGKILL)
    }

    /// Reads what is there, at most `budget` chunks (level-triggered epoll calls again), and
    /// closes the pipe at end of file.
    private func drain(_ capture: inout OutputCapture, budget: Int) {
        guard capture.isOpen else { return }
        for _ in 0..<budget {
            let n = read(capture.fd, scratch.baseAddress, scratch.count)
            if n > 0 {
                capture.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 || errno != EAGAIN {
                close(capture.fd)  // also leaves the epoll set
                capture.fd = -1
            }
            return
        }
    }

    private func reap(_ job: Job) {
        guard !job.reaped else { return }
        var status: Int32 = 0
        let result = waitpid(job.pid, &status, WNOHANG)
        if result == 0 { return }
        let waitError = result < 0 ? errno : 0
        let end = gw_monotonic_nsec()
        job.reaped = true
        close(job.pidfd)
        // What the shell wrote before it exited is in the pipes now. A background grandchild
        // may hold them open forever: take what is there and do not wait for end of file.
        drain(&job.standardOutput, budget: 256)
        drain(&job.standardError, budget: 256)
        for fd in [job.standardOutput.fd, job.standardError.fd] where fd >= 0 { close(fd) }
        job.standardOutput.fd = -1
        job.standardError.fd = -1

        let outcome: Result<ProcessResult, any Error>
        var code: Int32 = 0
        var signal: Int32 = 0
        if waitError != 0 {
            outcome = .failure(ProcessRunnerError.system(.waitFailed, waitError, "waitpid(\(job.pid))"))
        } else if job.cancelRequested.load(ordering: .acquiring) {
            outcome = .failure(CancellationError())
        } else {
            let kind = gw_decode_wait_status(status, &code, &signal)
            outcome = .success(ProcessResult(
                pid: job.pid,
                termination: kind == 1 ? .exited(code) : .signaled(signal),
                timedOut: job.timedOut,
                standardOutput: job.standardOutput.captured,
                standardError: job.standardError.captured,
                duration: .nanoseconds(Int64(end &- job.startNanos))))
        }
        // End the rest of the group: SIGTERM now, SIGKILL after the grace period if anything
        // is left. The result does not wait for this.
        if job.groupExists {
            job.signalGroup(SIGTERM)
            if job.killDeadline == nil { job.killDeadline = end &+ job.graceNanos }
        } else {
            job.killDeadline = nil
        }
        if job.killDeadline == nil { jobs[job.id] = nil }
        job.onReaped()
        job.continuation?.resume(with: outcome)
        job.continuation = nil
    }

    private func fireDeadlines(now: UInt64) {
        for job in jobs.values {
            if !job.reaped && !job.timedOut && now >= job.timeoutDeadline {
                job.timedOut = true
                job.signalGroup(SIGTERM)
                job.killDeadline = now &+ job.graceNanos
            }
            if let killDeadline = job.killDeadline, now >= killDeadline {
                job.signalGroup(SIGKILL)
                job.killDeadline = nil
                if job.reaped { jobs[job.id] = nil }
            }
        }
    }

    /// Milliseconds until the nearest deadline, rounded up so the loop never spins; -1 for none.
    private func waitTimeoutMilliseconds() -> Int32 {
        var nearest: UInt64?
        for job in jobs.values {
            if let deadline = job.nextDeadline, deadline < nearest ?? .max { nearest = deadline }
        }
        guard let nearest else { return -1 }
        let now = gw_monotonic_nsec()
        guard nearest > now else { return 0 }
        return Int32(min((nearest - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }
}
