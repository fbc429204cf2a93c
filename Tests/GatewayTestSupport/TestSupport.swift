import CGatewayShims
import CGatewayTestShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Paths the tests need: the package checkout, the built helper executables, the sandbox script.
public enum TestPaths {
    /// The package root, found from this file's path (Tests/GatewayTestSupport/TestSupport.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The build products folder: the test bundle lives beside the executables it depends on.
    public static let buildProducts = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().path

    public static func product(_ name: String) -> String { buildProducts + "/" + name }

    public static let testHelper = product("gatewayd-test-helper")
    public static let sandboxScript = packageRoot + "/Tests/Support/systemd-sandbox"
}

/// Whether a real journald / systemd manager can be started here (root, unshare, systemd
/// installed), and if not, why: tests that need it skip with that reason.
public enum Sandbox {
    public static let unavailableReason: String? = {
        if geteuid() != 0 { return "needs root to start journald/systemd in private namespaces" }
        for tool in ["/usr/bin/unshare", "/lib/systemd/systemd-journald", "/lib/systemd/systemd", "/usr/bin/journalctl"]
        where access(tool, X_OK) != 0 {
            return "\(tool) is missing (install util-linux and systemd)"
        }
        let probe = try? run(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/true"])
        if probe?.status != 0 { return "unshare --mount is not permitted here: \(probe?.standardError ?? "")" }
        return nil
    }()

    public static var isAvailable: Bool { unavailableReason == nil }
}

/// The outcome of a finished test subprocess.
public struct ProcessOutput: Sendable {
    public let pid: Int32
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

/// Runs argv to completion (a `TestChild`: test harness only; the product uses ProcessRunner).
/// `environment` nil inherits this process's. `status` is the exit status, or 128 + the signal.
public func run(_ argv: [String], environment: [String: String]? = nil,
                standardErrorTo errorFile: FileHandle? = nil) throws -> ProcessOutput {
    let child = try TestChild(argv, environment: environment,
                              standardError: errorFile.map { .descriptor($0.fileDescriptor) } ?? .pipe)
    let output = child.readToEnd()
    return ProcessOutput(
        pid: child.pid,
        status: child.wait(),
        standardOutput: String(decoding: output.standardOutput, as: UTF8.self),
        standardError: String(decoding: output.standardError, as: UTF8.self))
}

/// `key=value` words of a helper's output (`in_flight=500 extra=busy`); a word without `=` maps to "".
public func keyValues(_ output: String) -> [String: String] {
    Dictionary(output.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { word in
        let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "")
    }, uniquingKeysWith: { _, last in last })
}

/// Waits (poll(2) on a pidfd, no sleeping) until `pid` has exited, up to `timeout`. True when it
/// has exited (or no longer exists).
public func waitForExit(of pid: pid_t, timeout: Duration) -> Bool {
    let fd = gw_pidfd_open(pid, 0)
    if fd < 0 { return errno == ESRCH }
    defer { close(fd) }
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let milliseconds = pollMilliseconds(timeout)
    return poll(&entry, 1, milliseconds) == 1
}

/// Processes of process group `pgid` that are still running (zombies waiting for their reaper
/// do not count: they have ended).
public func livingMembers(ofProcessGroup pgid: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "(comm)": state, ppid, pgrp, ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == pgid else { return nil }
        return pid
    }
}

/// Open descriptors of this process, by number.
public func openFileDescriptors() -> Set<Int32> {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return Set(entries.compactMap { Int32($0) })
}

/// A named pipe between a test and a child: the child writes a line ("I am running now") or
/// reads one ("go on"), and nobody sleeps. The test holds the FIFO open read-write, so a child's
/// open never blocks and no reader sees end of file early; waiting happens on a thread of its
/// own, never on one of the few cooperative threads that run the tests.
public final class FIFOSignal: @unchecked Sendable {
    public let path: String
    private let directory: String
    private let fd: Int32

    public init() {
        directory = makeTemporaryDirectory("gatewayd-fifo")
        path = directory + "/signal"
        mkfifo(path, 0o600)
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
    }

    deinit {
        close(fd)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Hands a line to a child blocked in `read line < FIFO`.
    public func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// How long a child may take to say its first line: generous, because it is only reached when
    /// something is wrong, and a child spawned while the whole suite runs on two cores has taken
    /// more than 10 s to be scheduled.
    public static let childWait: Duration = .seconds(30)

    /// The first line a child writes, or nil if none came within `timeout`.
    public func waitForLine(timeout: Duration = FIFOSignal.childWait) async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                continuation.resume(returning: blockingReadLine(timeout: timeout))
            }
        }
    }

    private func blockingReadLine(timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while !collected.contains(UInt8(ascii: "\n")) {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = pollMilliseconds(left)
            guard poll(&entry, 1, milliseconds) == 1 else { continue }
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { collected += buffer[0..<n] }
        }
        let newline = collected.firstIndex(of: UInt8(ascii: "\n"))!
        return String(decoding: collected[..<newline], as: UTF8.self)
    }
}

/// This process's environment with some variables replaced or removed (nil removes).
public func environment(with changes: [String: String?]) -> [String: String] {
    var result = ProcessInfo.processInfo.environment
    for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                 "LISTEN_FDNAMES", "JOURNAL_STREAM"] {
        result[name] = nil
    }
    for (name, value) in changes { result[name] = value }
    return result
}

/// A fresh temporary directory. The caller may remove it; whatever is left is removed with the
/// rest of this process's (one `gatewayd-test.*` directory per test process) when it exits, so
/// `swift test` leaves nothing in /tmp.
public func makeTemporaryDirectory(_ prefix: String = "gatewayd-test") -> String {
    madeTemporaryDirectory(temporaryRoot + "/\(prefix).XXXXXX")
}

/// mkdtemp on a copy of `template`, freed after (LeakSanitizer counted every copy).
private func madeTemporaryDirectory(_ template: String) -> String {
    let copy = strdup(template)!
    defer { free(copy) }
    return String(cString: mkdtemp(copy)!)
}

/// This process's directory under /tmp, made on first use and removed at exit. Traversable by
/// all: some tests run a child as another user in a directory below it.
private let temporaryRoot: String = {
    let root = madeTemporaryDirectory(NSTemporaryDirectory() + "/gatewayd-test.XXXXXX")
    chmod(root, 0o755)
    temporaryRootForExit = root
    atexit { temporaryRootForExit.map { try? FileManager.default.removeItem(atPath: $0) } }
    return root
}()

/// For the `atexit` handler, which cannot capture.
nonisolated(unsafe) private var temporaryRootForExit: String?

/// Runs blocking code (a blocking socket client, poll(2)) on a thread of its own, so it never
/// occupies one of the few cooperative threads that the server under test needs.
///
/// The body runs in the calling task (on a `DedicatedThreadExecutor`), not on a bare thread: an
/// `#expect` in it then knows its test. On a detached thread it did not, and a failure was
/// reported against «unknown» while the test itself was listed as passed.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let executor = DedicatedThreadExecutor(name: onThreadName)
    defer { executor.finish() }
    return try await withTaskExecutorPreference(executor) { try body() }
}

/// The name of `onThread`'s threads (as `/proc/thread-self/comm` shows it).
public let onThreadName = "gw-test-block"

/// A free TCP port on 127.0.0.1, for a server under test that cannot bind port 0 itself.
public func freeLoopbackPort() -> Int { Int(gw_free_loopback_port()) }

/// Another process (Python's sqlite3) holding an exclusive lock on a SQLite file, as a backup tool
/// or a stray `sqlite3` shell would, until `release()`.
public final class SQLiteLockHolder: @unchecked Sendable {
    private let process: TestChild
    private let gate: String

    /// Returns once the other process holds the lock (it says so on stdout).
    public init(database path: String) async throws {
        gate = path + ".lock-gate"
        mkfifo(gate, 0o600)
        process = try TestChild(["/usr/bin/python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            open(sys.argv[2]).read()
            db.execute("ROLLBACK")
            """, path, gate], standardError: .null)
        let process = self.process
        let line = try await onThread {
            var buffer = [UInt8](repeating: 0, count: 7)
            var count = 0
            while count < buffer.count {
                let n = buffer.withUnsafeMutableBytes { read(process.standardOutput, $0.baseAddress! + count, $0.count - count) }
                if n > 0 { count += n } else if n == 0 || errno != EINTR { break }
            }
            return String(decoding: buffer[0..<count], as: UTF8.self)
        }
        guard line == "locked\n" else { throw SQLiteLockError("the lock holder said \(line.debugDescription), not \"locked\"") }
    }

    /// Lets go of the lock and waits for the process to end.
    public func release() async throws {
        let gate = self.gate, process = self.process
        try await onThread {
            let fd = open(gate, O_WRONLY)
            _ = write(fd, "x", 1)
            close(fd)
            process.wait()
        }
        unlink(gate)
    }
}

public struct SQLiteLockError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The sanitizer the suite runs under (`.ci/sanitize thread|address` sets GATEWAYD_SANITIZER),
/// nil in a plain run: a test whose bound a sanitizer's slowdown breaks (a timing bound, not a
/// correctness one) skips under it, with its reason.
public enum Sanitizer {
    public static let active: String? = getenv("GATEWAYD_SANITIZER").map { String(cString: $0) }
}
