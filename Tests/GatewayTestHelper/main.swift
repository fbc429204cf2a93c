// A small program the tests run inside a real systemd manager or journald, to exercise the
// Systemd module from a process that systemd started. Not installed.
//
//   GatewayTestHelper journal TAG           log records through JournalLogHandler
//   GatewayTestHelper auto TAG              log one record through the auto-detected target
//   GatewayTestHelper socket-echo           answer each connection on the passed socket(s)
//   GatewayTestHelper connect PATH          print the line a Unix stream server at PATH sends
//   GatewayTestHelper notify ACTION...      ready[:STATUS] status:TEXT reloading stopping watchdog extend:SECONDS
//   GatewayTestHelper watchdog              print the watchdog ping interval in microseconds, or "off"
//   GatewayTestHelper runner-stress N       hold N commands in flight on a runner limited to N
//   GatewayTestHelper runner-emfile         run a command with no descriptors left
//   GatewayTestHelper runner-no-close-range  descriptors still closed for a command when close_range is refused
//   GatewayTestHelper illegal-move          move a fresh lifecycle machine to .reloading (it must trap)
import CGatewayShims
import CGatewayTestShims
import GatewayCore
import Logging
import ProcessRunner
import Systemd
#if canImport(Glibc)
import Glibc
#endif

func writeLine(_ fd: Int32, _ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    writeLine(2, "usage: GatewayTestHelper journal|auto|socket-echo [TAG]")
    exit(64)
}

switch arguments[1] {
case "illegal-move":
    // Here rather than as a Swift Testing exit test: that test's monitor waits with
    // waitid(P_ALL, WNOWAIT), and any other child of the test process not yet reaped stalls it.
    var machine = LifecycleMachine()
    machine.move(to: .reloading)
    writeLine(1, "moved")
case "journal":
    let tag = arguments.count > 2 ? arguments[2] : "untagged"
    LogHandlerFactory(target: .journal, identifier: "gatewayd-test", fieldPrefix: "GATEWAY_", level: .trace)
        .bootstrap()
    var logger = Logger(label: "test")
    logger[metadataKey: "test_tag"] = "\(tag)"
    logger.info("plain record", metadata: ["session": "local:dm:alice", "quick-command name!": "up time"])
    logger.warning("two\nlines", metadata: ["multi": "first\nsecond\n", "kind": "warning"])
    logger.debug("debug record", metadata: ["kind": "debug"])
    logger.critical("critical record", metadata: ["kind": "critical"])
case "auto":
    let tag = arguments.count > 2 ? arguments[2] : "untagged"
    let journalStream = getenv("JOURNAL_STREAM").map { String(cString: $0) }
    let target = LogTargetChoice.auto.resolve(journalStream: journalStream)
    LogHandlerFactory(target: target, identifier: "gatewayd-test", fieldPrefix: "GATEWAY_").bootstrap()
    var logger = Logger(label: "test")
    logger[metadataKey: "test_tag"] = "\(tag)"
    logger.info("auto record target=\(target.rawValue)")
case "socket-echo":
    let sockets: [ActivatedSocket]
    do {
        sockets = try SocketActivation.listeners()
    } catch {
        writeLine(2, "socket-echo: \(error)")
        exit(1)
    }
    guard let socket = sockets.first else {
        writeLine(2, "socket-echo: no socket passed (LISTEN_FDS unset)")
        exit(2)
    }
    while true {
        let client = accept(socket.fileDescriptor, nil, nil)
        if client < 0 { continue }
        var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
        _ = gw_peer_credentials(client, &pid, &uid, &gid)
        writeLine(client, "name=\(socket.name) fd=\(socket.fileDescriptor) count=\(sockets.count) server_pid=\(getpid()) peer_pid=\(pid)")
        close(client)
    }
case "connect":
    let fd = gw_unix_connect(arguments[2])
    guard fd >= 0 else { writeLine(2, "connect: errno \(errno)"); exit(1) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let n = read(fd, &buffer, buffer.count)
    print(String(decoding: buffer[0..<max(0, n)], as: UTF8.self), terminator: "")
case "notify":
    let notifier = Notifier()
    print("enabled=\(notifier.isEnabled)")
    do {
        for action in arguments.dropFirst(2) {
            let parts = action.split(separator: ":", maxSplits: 1).map(String.init)
            let value = parts.count > 1 ? parts[1] : nil
            switch parts[0] {
            case "ready": try notifier.ready(status: value)
            case "status": try notifier.status(value ?? "")
            case "reloading": try notifier.reloading(status: value)
            case "stopping": try notifier.stopping(status: value)
            case "watchdog": try notifier.watchdogPing()
            case "extend": try notifier.extendTimeout(by: .seconds(Int(value ?? "0") ?? 0))
            default: writeLine(2, "notify: unknown action \(action)"); exit(64)
            }
        }
    } catch let error as SystemdError {
        writeLine(2, "code=\(error.code.rawValue) errno=\(error.errno) \(error.message)")
        exit(3)
    }
case "watchdog":
    do {
        if let interval = try Watchdog.pingInterval() {
            let (seconds, attoseconds) = interval.components
            print(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        } else {
            print("off")
        }
    } catch let error as SystemdError {
        writeLine(2, "code=\(error.code.rawValue) errno=\(error.errno)")
        exit(3)
    }
case "runner-stress":
    // N commands held in flight together (each reports on STARTED, then waits on GATE), then
    // one more must be refused as busy; then all are released and the descriptors counted.
    let total = Int(arguments[2])!
    ProcessRunner.raiseFileDescriptorLimit()
    let runner = ProcessRunner(maxConcurrent: total)
    // Warm up what creates descriptors lazily, so they are not counted as leaks: the reactor
    // (epoll, timerfd), and libdispatch's manager (epoll, eventfd, timerfd), which a task on the
    // global pool and a timer bring up. (`run` executes on its caller's executor, the main
    // actor here, so a call from this top-level code alone would not.)
    _ = try await Task.detached {
        try await Task.sleep(for: .milliseconds(1))
        return try await runner.run(.shell("sleep 0.01", environment: ProcessRunner.minimalEnvironment))
    }.value
    let template = strdup("/tmp/gatewayd-stress.XXXXXX")!
    defer { free(template) }
    let directory = String(cString: mkdtemp(template)!)
    let started = directory + "/started", gate = directory + "/gate"
    mkfifo(started, 0o600)
    mkfifo(gate, 0o600)
    // Opened read-write: never blocks, and a writer always exists, so no reader sees EOF early.
    let startedFD = open(started, O_RDWR | O_CLOEXEC)
    let gateFD = open(gate, O_RDWR | O_CLOEXEC)
    let before = try FileDescriptors.count()
    let environment = ProcessRunner.minimalEnvironment.merging(["STARTED": started, "GATE": gate]) { $1 }
    let outcomes = Task.detached {
        await withTaskGroup(of: String.self) { group in
            for index in 0..<total {
                group.addTask {
                    do {
                        let result = try await runner.run(.shell(
                            "echo >> \"$STARTED\"; read line < \"$GATE\"; printf '%s' \"$1\"", arguments: ["\(index)"],
                            environment: environment))
                        return result.standardOutput.text == "\(index)" && result.exitStatus == 0 ? "ok" : "wrong"
                    } catch {
                        return "error \(error)"
                    }
                }
            }
            var counts: [String: Int] = [:]
            for await outcome in group { counts[outcome, default: 0] += 1 }
            return counts
        }
    }
    var seen = 0
    var byte: UInt8 = 0
    while seen < total, read(startedFD, &byte, 1) == 1 { if byte == 10 { seen += 1 } }
    let inFlight = runner.runningCount
    var busy = "none"
    do {
        _ = try await runner.run(.shell("true", environment: ProcessRunner.minimalEnvironment))
    } catch let error as ProcessRunnerError {
        busy = error.code.rawValue
    }
    let lines = [UInt8](repeating: 10, count: total)
    _ = lines.withUnsafeBytes { write(gateFD, $0.baseAddress, $0.count) }
    let counts = await outcomes.value
    let after = try FileDescriptors.count()
    close(startedFD); close(gateFD)
    unlink(started); unlink(gate); rmdir(directory)
    print("in_flight=\(inFlight) extra=\(busy) ok=\(counts["ok", default: 0]) failed=\(total - counts["ok", default: 0]) before=\(before) after=\(after) running=\(runner.runningCount)")
case "runner-no-close-range":
    // Under a seccomp filter that refuses close_range (EPERM): descriptors this process holds
    // without close-on-exec, 40 of them and one far up, must still not reach the command.
    guard gw_test_deny_close_range() == 0 else { writeLine(2, "seccomp: errno \(errno)"); exit(1) }
    ProcessRunner.raiseFileDescriptorLimit()
    var held = (0..<40).map { _ in open("/dev/null", O_RDONLY) }
    held.append(dup2(held[0], 900))
    let runner = ProcessRunner(maxConcurrent: 4)
    let listing = try await runner.run(.shell("ls /proc/$$/fd", environment: ProcessRunner.minimalEnvironment))
    let seen = listing.standardOutput.text.split(separator: "\n").compactMap { Int32($0) }
    writeLine(1, "status=\(listing.exitStatus ?? -1) leaked=\(seen.filter { held.contains($0) }.count) seen=\(seen.count)")
case "runner-emfile":
    let runner = ProcessRunner(maxConcurrent: 4)
    _ = try await runner.run(.shell("true", environment: ProcessRunner.minimalEnvironment))
    var saved = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved)
    var tight = saved
    tight.rlim_cur = rlim_t(try FileDescriptors.highest() + 1)
    guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &tight) == 0 else {
        writeLine(2, "setrlimit: errno \(errno)"); exit(1)
    }
    // Fill the holes below the limit too, so the next descriptor anyone asks for fails.
    var fillers: [Int32] = []
    while true {
        let fd = dup(0)
        if fd < 0 { break }
        fillers.append(fd)
    }
    do {
        _ = try await runner.run(.shell("echo unreachable", environment: ProcessRunner.minimalEnvironment))
        writeLine(1, "unexpected success")
    } catch let error as ProcessRunnerError {
        writeLine(1, "code=\(error.code.rawValue) errno=\(error.errno) running=\(runner.runningCount)")
    }
    for fd in fillers { close(fd) }
    setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved)
    let again = try await runner.run(.shell("echo recovered", environment: ProcessRunner.minimalEnvironment))
    writeLine(1, String(again.standardOutput.text.dropLast()))
default:
    writeLine(2, "GatewayTestHelper: unknown mode \(arguments[1])")
    exit(64)
}

struct ListingFailed: Error {
    let errno: Int32
}

/// This process's open descriptors, from /proc/self/fd.
enum FileDescriptors {
    static func list() throws -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { throw ListingFailed(errno: errno) }
        defer { closedir(directory) }
        var result: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name) { result.append(fd) }
        }
        return result
    }

    /// Minus one: the directory stream's own descriptor.
    static func count() throws -> Int { try list().count - 1 }
    static func highest() throws -> Int32 { try list().max() ?? 2 }
}
