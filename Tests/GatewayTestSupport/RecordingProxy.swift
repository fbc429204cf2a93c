import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `Tests/Support/recording-proxy` in front of a real server: forwards bytes both ways unchanged
/// and logs each request's body and each response (see the script), so a test can see what the
/// gateway sent (the history of a second turn) without a fake in the way. With `holding: true`
/// the end of every streamed response waits until `release()`: whatever reached the chat before
/// then was sent while the completion was still going on.
public final class RecordingProxy: @unchecked Sendable {
    /// One line of the proxy's log.
    public struct Record: Sendable {
        /// "request", "first_byte", "held" or "response".
        public let event: String
        public let connection: Int
        /// CLOCK_MONOTONIC, seconds.
        public let at: Double
        public let body: String
        public let status: Int
    }

    public static let script = TestPaths.packageRoot + "/Tests/Support/recording-proxy"

    public let port: Int
    public let logPath: String
    private let directory: String
    private let hold: FIFOSignal?
    private var process: TestChild?

    /// `http://127.0.0.1:PORT/v1`, as `agent.openai.base_url` takes it.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Starts the proxy to `127.0.0.1:upstream`; returns once it listens.
    public init(upstream: Int, holding: Bool = false) throws {
        directory = makeTemporaryDirectory("gatewayd-proxy")
        logPath = directory + "/proxy.log"
        hold = holding ? FIFOSignal() : nil
        var argv = ["/usr/bin/python3", Self.script, "--upstream", String(upstream), "--log", logPath]
        if let hold { argv += ["--hold", hold.path] }
        let process = try TestChild(argv, standardOutput: .pipe, standardError: .null)
        self.process = process
        // Its first line, "port=N", says it listens.
        var line: [UInt8] = []
        var byte: UInt8 = 0
        var entry = pollfd(fd: process.standardOutput, events: Int16(POLLIN), revents: 0)
        while line.last != UInt8(ascii: "\n"), poll(&entry, 1, 30_000) == 1, read(process.standardOutput, &byte, 1) == 1 {
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("port="), let port = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.pid, SIGKILL)
            throw LlamaServerError("the recording proxy did not start: \(text.debugDescription)")
        }
        self.port = port
    }

    /// Lets one held stream end go on (`holding: true`).
    public func release() { hold?.send("go") }

    /// Everything logged so far, in order.
    public func records() -> [Record] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return nil }
            return Record(event: object["event"] as? String ?? "", connection: object["connection"] as? Int ?? 0,
                          at: object["at"] as? Double ?? 0, body: object["body"] as? String ?? "",
                          status: object["status"] as? Int ?? 0)
        }
    }

    /// The bodies of the chat completion requests, in order.
    public func completionRequests() -> [String] {
        records().filter { $0.event == "request" }.map(\.body).filter { $0.contains("\"messages\"") }
    }

    /// Waits (polling the log, bounded) until a record satisfies `matches`.
    public func waitFor(timeout: Duration, _ matches: (Record) -> Bool) -> Record? {
        let deadline = ContinuousClock.now + timeout
        repeat {
            if let found = records().first(where: matches) { return found }
            usleep(20_000)
        } while ContinuousClock.now < deadline
        return nil
    }

    public func stop() {
        guard let process else { return }
        kill(process.pid, SIGTERM)
        if !waitForExit(of: process.pid, timeout: .seconds(10)) { kill(process.pid, SIGKILL) }
        process.wait()
        self.process = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// CLOCK_MONOTONIC in seconds: the clock of the proxy's log.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
