import CGatewayShims
import CGatewayTestShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process of the test process (a helper, curl, a systemd sandbox, ngircd), started with
/// `posix_spawn`.
///
/// Why not Foundation's `Process`: with many launches at once from different threads (a suite of
/// curl calls beside the systemd scenarios), its `run()` crashed the test process (a `memcpy`
/// past the end of a mapping) and `readDataToEndOfFile()` traps on EINTR. This is the few calls
/// the tests need, each of them safe from any thread. The child starts with no signal blocked and
/// every signal at its default, whatever the spawning thread blocks (Dispatch's and Swift
/// Testing's threads block most), so a `kill` in a test script works.
public final class TestChild: @unchecked Sendable {
    /// Where the child's stdout or stderr goes.
    public enum Output: Sendable {
        /// A pipe that this object reads (`readToEnd()`).
        case pipe
        /// /dev/null.
        case null
        /// A descriptor of the test process (duplicated onto the child's).
        case descriptor(Int32)
    }

    public let pid: pid_t
    /// Read ends of the pipes, -1 where there is none.
    public let standardOutput: Int32
    public let standardError: Int32
    private let lock = NSLock()
    private var waitStatus: Int32?

    /// Starts `argv` (argv[0] is a path). `environment` nil passes this process's own.
    public init(_ argv: [String], environment: [String: String]? = nil,
                standardOutput stdout: Output = .pipe, standardError stderr: Output = .pipe) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, gw_spawn_flag_setsigmask() | gw_spawn_flag_setsigdef())

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        defer { childEnds.forEach { close($0) } }
        func route(_ output: Output, to target: Int32) throws -> Int32 {
            switch output {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                return -1
            case .descriptor(let fd):
                posix_spawn_file_actions_adddup2(&actions, fd, target)
                return -1
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard gw_pipe_cloexec(&fds) == 0 else { throw TestChildError("pipe: errno \(errno)") }
                parentEnds.append(fds[0])
                childEnds.append(fds[1])
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                return fds[0]
            }
        }
        do {
            standardOutput = try route(stdout, to: 1)
            standardError = try route(stderr, to: 2)
        } catch {
            parentEnds.forEach { close($0) }
            throw error
        }

        // Nothing else of this process goes with the child: a test's socket that lacks
        // close-on-exec (an in-process server's accepted connection) kept open by a long-lived
        // child would hide its close from the peer (a varlink client waited 17 s for its EOF).
        gw_spawn_file_actions_addclosefrom(&actions, 3)
        let arguments = argv.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        let variables = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { variables?.forEach { free($0) } }
        var child: pid_t = 0
        let result = variables.map { posix_spawn(&child, argv[0], &actions, &attributes, arguments, $0) }
            ?? posix_spawn(&child, argv[0], &actions, &attributes, arguments, environ)
        guard result == 0 else {
            parentEnds.forEach { close($0) }
            throw TestChildError("cannot start \(argv[0]): \(String(cString: strerror(result)))")
        }
        pid = child
    }

    /// A child never waited for is killed and reaped here: left as a zombie of the test process,
    /// it stalls every later `waitid(P_ALL, WNOWAIT)`, which is how Swift Testing watches its
    /// exit tests (its monitor spun at 100% CPU and the run hung).
    deinit {
        if standardOutput >= 0 { close(standardOutput) }
        if standardError >= 0 { close(standardError) }
        if waitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Reads both pipes to end of file together (a child chatty on one cannot block on the other).
    public func readToEnd() -> (standardOutput: Data, standardError: Data) {
        var collected = [Data(), Data()]
        var open = [standardOutput, standardError]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(where: { $0 >= 0 }) {
            var entries = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&entries, nfds_t(entries.count), -1) >= 0 || errno == EINTR else { break }
            for index in entries.indices where entries[index].fd >= 0 && entries[index].revents != 0 {
                let n = read(entries[index].fd, &buffer, buffer.count)
                if n > 0 {
                    collected[index].append(contentsOf: buffer[0..<n])
                } else if n == 0 || errno != EINTR {
                    open[index] = -1
                }
            }
        }
        return (collected[0], collected[1])
    }

    /// Waits for the child to end: its exit status, or 128 + the signal that killed it.
    @discardableResult
    public func wait() -> Int32 {
        lock.withLock {
            if let waitStatus { return Self.decode(waitStatus) }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            waitStatus = status
            return Self.decode(status)
        }
    }

    /// False once the child has ended (it is then reaped).
    public var isRunning: Bool {
        lock.withLock {
            guard waitStatus == nil else { return false }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return true }
            waitStatus = status
            return false
        }
    }

    private static func decode(_ status: Int32) -> Int32 {
        var code: Int32 = 0, signal: Int32 = 0
        return gw_decode_wait_status(status, &code, &signal) == 2 ? 128 + signal : code
    }
}

public struct TestChildError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
