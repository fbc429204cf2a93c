import CGatewayShims
#if canImport(Glibc)
import Glibc
#endif

/// A freshly spawned child: its pid, a pidfd to learn of its exit without SIGCHLD, the
/// parent's (non-blocking) ends of its stdout and stderr pipes, and where it reports a failure
/// before execve.
struct SpawnedProcess {
    let pid: pid_t
    let pidfd: Int32
    let standardOutput: Int32
    let standardError: Int32
    let failure: SpawnFailure
}

/// Where a child that could not get to execve leaves the reason (`gw_spawn` does not wait for
/// it): the errno value, 0 while there is none. Allocated before the spawn and kept until the
/// child was reaped, since the child writes it from its own side of the shared memory; the
/// job that reaps it owns it.
final class SpawnFailure: @unchecked Sendable {
    let cell: UnsafeMutablePointer<Int32>

    init() {
        cell = .allocate(capacity: 1)
        cell.initialize(to: 0)
    }

    deinit { cell.deallocate() }

    /// Read once the child has been reaped (its exit orders its write before this read).
    var errno: Int32 { cell.pointee }

    /// The error `spawn` would have thrown, had it waited for the child.
    static func error(_ errno: Int32, _ executable: String) -> ProcessRunnerError {
        // No descriptor left is the daemon's limit, not the command's fault.
        let code: ProcessRunnerError.Code = errno == EMFILE || errno == ENFILE ? .resourceExhausted : .spawnFailed
        return .system(code, errno, "cannot run \(executable)")
    }
}

/// A quick command's process, started as posix_spawn would, but with no wait for the child to
/// reach execve (`gw_spawn`, CGatewayShims/spawn.c: its stack reused, its pidfd from clone):
/// the caller's thread, the event loop, goes on at once. Never fork: fork copies the page tables
/// of a large daemon (tens of ms at 1 GiB resident).
enum Spawner {
    /// The process, running; a failure to get it to execve (a missing program or working
    /// directory) comes with its exit (`SpawnedProcess.failure`). Throws what fails before.
    static func spawn(_ spec: ProcessSpec) throws(ProcessRunnerError) -> SpawnedProcess {
        guard !spec.argv.isEmpty else { throw ProcessRunnerError(.invalidSpec, "argv is empty") }
        let strings = [spec.executable] + spec.argv + spec.environment.keys + spec.environment.values
            + [spec.workingDirectory ?? ""]
        guard !strings.contains(where: { $0.utf8.contains(0) }) else {
            throw ProcessRunnerError(.invalidSpec, "an argument or environment entry contains a NUL byte")
        }

        // First, so that its throwing leaves nothing else open.
        let input = try makeInputPipe(spec.standardInput)
        defer { if input >= 0 { close(input) } }

        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        // Non-blocking at both ends; the child makes its ends (separate open file descriptions)
        // blocking again before execve, so its writes never fail with EAGAIN.
        guard gw_pipe_cloexec_nonblock(&out) == 0 else { throw .system(.resourceExhausted, errno, "pipe") }
        guard gw_pipe_cloexec_nonblock(&err) == 0 else {
            let saved = errno
            close(out[0]); close(out[1])
            throw .system(.resourceExhausted, saved, "pipe")
        }
        defer { close(out[1]); close(err[1]) }

        let argv = CStringArray(spec.argv)
        let envp = CStringArray(spec.environment.map { "\($0.key)=\($0.value)" })
        defer { argv.free(); envp.free() }

        // SIGCHLD stays blocked in the spawning thread, as in every thread of gatewayd (its main
        // thread blocks it before any other thread exists; NIO's, Dispatch's and the runner's
        // own threads block every signal). The runner reaps through pidfds and never needs it.
        // Blocked everywhere, the first SIGCHLD stays pending for the whole process and every
        // later one is dropped where it is raised, waking nothing. (Unblocked in the spawning
        // thread, as before, every exit that came while the spawn had all signals blocked around
        // the clone, about half of all commands on a busy machine, was queued, and queuing any
        // signal wakes every signalfd's poller: gatewayd's main thread woke ~460 times per 1,000
        // commands, and the thread that took the signal once more.)
        var pid: pid_t = 0
        var pidfd: Int32 = -1
        let failure = SpawnFailure()
        let result = spec.executable.withCString { path in
            (spec.workingDirectory ?? "").withCString { directory in
                argv.pointers.withUnsafeBufferPointer { arguments in
                    envp.pointers.withUnsafeBufferPointer { environment in
                        var request = gw_spawn_request(
                            path: path, argv: arguments.baseAddress, environment: environment.baseAddress,
                            standard_input: input, standard_output: out[1], standard_error: err[1],
                            directory: spec.workingDirectory == nil ? nil : directory)
                        return gw_spawn(&request, failure.cell, &pid, &pidfd)
                    }
                }
            }
        }
        guard result == 0 else {
            close(out[0]); close(err[0])
            throw SpawnFailure.error(result, spec.executable)
        }
        return SpawnedProcess(pid: pid, pidfd: pidfd, standardOutput: out[0], standardError: err[0], failure: failure)
    }
}

extension Spawner {
    /// The read end of a pipe already holding all of `bytes` (the write end closed, so the child
    /// sees end of file after them), or -1 for none.
    static func makeInputPipe(_ bytes: [UInt8]?) throws(ProcessRunnerError) -> Int32 {
        guard let bytes else { return -1 }
        guard bytes.count <= ProcessRunnerDefaults.maxInput else {
            throw ProcessRunnerError(.invalidSpec, "stdin of \(bytes.count) bytes is over the \(ProcessRunnerDefaults.maxInput)-byte limit")
        }
        var fds: [Int32] = [-1, -1]
        guard gw_pipe_cloexec(&fds) == 0 else { throw .system(.resourceExhausted, errno, "pipe") }
        defer { close(fds[1]) }
        if bytes.count > 65536 { _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, Int32(bytes.count)) }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        let written = bytes.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let saved = errno
            close(fds[0])
            throw .system(.resourceExhausted, saved, "writing \(bytes.count) bytes of stdin")
        }
        return fds[0]
    }
}

/// A NULL-terminated `char *[]` that lives until `free()`.
struct CStringArray {
    var pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    func free() {
        for pointer in pointers { Glibc.free(pointer) }
    }
}
