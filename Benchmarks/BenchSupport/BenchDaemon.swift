import CGatewayShims
import CGatewayTestShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The gatewayd beside the benchmark's binary (the release build of the same package), or the one
/// `GATEWAYD_BENCH_DAEMON` names (the static build as installed, when the benchmark itself links
/// the test support, which a static build cannot), started with a config the benchmark writes
/// and a notify socket of its own, and waited for until READY=1: every daemon benchmark starts
/// it the same way.
public final class BenchDaemon {
    /// The environment variable naming the gatewayd to start instead of the one beside us.
    public static let daemonVariable = "GATEWAYD_BENCH_DAEMON"

    /// A fresh directory for the config, the control socket, the state and the benchmark's files.
    public let directory: String
    public let controlPath: String
    public let process = Process()
    /// Nanoseconds from `run()` to READY=1.
    public private(set) var readyAfter: UInt64 = 0
    private let notifyFD: Int32

    /// `config` gets the directory and returns gatewayd.yaml's text.
    public init(name: String, environment: [String: String] = [:], config: (String) -> String) throws {
        directory = String(cString: mkdtemp(strdup("/tmp/\(name).XXXXXX"))!)
        controlPath = directory + "/control"
        let notify = directory + "/notify", configPath = directory + "/gatewayd.yaml"
        try config(directory).write(toFile: configPath, atomically: true, encoding: .utf8)
        notifyFD = gw_unix_bind(notify, 0)
        precondition(notifyFD >= 0, "cannot bind the notify socket \(notify)")
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
        let daemon = ProcessInfo.processInfo.environment[Self.daemonVariable].flatMap { $0.isEmpty ? nil : $0 } ?? me + "/gatewayd"
        guard FileManager.default.isExecutableFile(atPath: daemon) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: daemon, NSLocalizedDescriptionKey: "no gatewayd to start at \(daemon) (build it, or set \(Self.daemonVariable))"])
        }
        process.executableURL = URL(fileURLWithPath: daemon)
        process.arguments = ["--config", configPath, "--socket", controlPath, "--log-target", "console"]
        process.environment = ["PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notify].merging(environment) { $1 }
        process.standardError = FileHandle.nullDevice
        let start = gw_monotonic_nsec()
        try process.run()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(notifyFD, &buffer, buffer.count, 0)
            precondition(n > 0, "gatewayd exited before READY=1")
            if String(decoding: buffer[0..<n], as: UTF8.self).contains("READY=1") { break }
        }
        readyAfter = gw_monotonic_nsec() - start
        // Drained from now on, so that no sd_notify blocks in the daemon.
        let fd = notifyFD
        Thread.detachNewThread {
            var sink = [UInt8](repeating: 0, count: 4096)
            while recv(fd, &sink, sink.count, 0) > 0 {}
        }
    }

    /// VmRSS in KiB (-1 once it is gone).
    public var rssKiB: Int {
        ((try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? "")
            .split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? -1
    }

    /// SIGTERM, wait, and remove the directory.
    public func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Microseconds: the median of nanosecond samples.
public func medianMicroseconds(_ values: [UInt64]) -> Double { percentileMicroseconds(values, 0.5) }

/// Microseconds: the `fraction` percentile (nearest rank) of nanosecond samples.
public func percentileMicroseconds(_ values: [UInt64], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
    return Double(sorted[max(0, index)]) / 1e3
}

/// Rounds per second from `clients` threads, each running `body(client, round)` in a loop for `seconds`.
public func throughput(clients: Int, seconds: Double, _ body: @escaping @Sendable (Int, Int) -> Void) -> Double {
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: clients)
    counts.initialize(repeating: 0, count: clients)
    defer { counts.deallocate() }
    let group = DispatchGroup()
    let deadline = gw_monotonic_nsec() + UInt64(seconds * 1e9)
    let start = gw_monotonic_nsec()
    for client in 0..<clients {
        group.enter()
        nonisolated(unsafe) let slot = counts + client
        Thread.detachNewThread {
            var round = 0
            while gw_monotonic_nsec() < deadline {
                body(client, round)
                round += 1
            }
            slot.pointee = round
            group.leave()
        }
    }
    group.wait()
    let elapsed = Double(gw_monotonic_nsec() - start) / 1e9
    return Double((0..<clients).reduce(0) { $0 + counts[$1] }) / elapsed
}
