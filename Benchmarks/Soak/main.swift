// A soak: the daemon under mixed load for a given time, sampled every 10 s, with the slope of
// each figure after a warm-up. Release build:
//   swift build -c release --product gatewayd-soak && swift build -c release --product gatewayd
//   .build/release/gatewayd-soak 1h [--interval 10s] [--warmup 5m]
// With the daemon as installed (static Swift runtime; the soak itself links the test support,
// which has no static build):
//   swift build -c release --static-swift-stdlib --scratch-path .build-static --product gatewayd
//   GATEWAYD_BENCH_DAEMON=.build-static/release/gatewayd .build/release/gatewayd-soak 1h
// The gatewayd beside this binary, with IRC (a real ngircd), the HMAC webhook, the control socket,
// exec quick commands (a fast one, one that always times out, one that prints 10 MB), sessions
// that are created and evicted (sessions.max 200, idle_timeout 30s), `busy` refusals
// (exec.max_concurrent 4 against 6 callers at times), a reload every minute and a drain and
// resume every 5 minutes. Every interval: RSS, open descriptors, threads, sessions in memory,
// state.db (+ WAL) size, and the p50/p99 of the interval's exec and message round trips.
// Target (issue #20): RSS growth under 1 MiB per hour, descriptors and threads flat, p99 flat.
import BenchSupport
import CGatewayShims
import Foundation
import GatewayTestSupport
import JSON
import Platforms
import NIOConcurrencyHelpers
import VarlinkClient
import VarlinkProtocol
#if canImport(Glibc)
import Glibc
#endif

func seconds(_ text: String) -> Double {
    guard let number = Double(text.dropLast()) else { return Double(text) ?? 60 }
    switch text.last {
    case "h": return number * 3600
    case "m": return number * 60
    default: return number
    }
}
let arguments = CommandLine.arguments
func option(_ name: String) -> String? { arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil } }
let duration = seconds(arguments.dropFirst().first { !$0.hasPrefix("--") && Double(String($0.dropLast())) != nil } ?? "10m")
let interval = seconds(option("--interval") ?? "10s")
let warmup = min(seconds(option("--warmup") ?? "5m"), duration / 4)

let irc = try IRCServer()
nonisolated(unsafe) let secret = Array("soak secret".utf8)
let daemon = try BenchDaemon(name: "gatewayd-soak") { directory in
    try! Data(secret).write(to: URL(fileURLWithPath: directory + "/webhook.secret"))
    return """
        access: {allowed_users: ["*"], admins: ["local:*", "irc:soaker!*@127.0.0.1"]}
        busy_input_mode: queue
        exec: {max_concurrent: 4, max_output: 65536}
        quick_commands:
          hi: {type: exec, command: "echo hi"}
          slow: {type: exec, command: "sleep 30", timeout: 1}
          big: {type: exec, command: "head -c 10000000 /dev/zero | tr '\\\\0' x"}
        sessions: {max: 200, idle_timeout: 30s}
        platforms:
          irc: {server: "127.0.0.1:\(irc.port)", nick: gatewayd, channels: ["#soak"], flood_burst: 1000, flood_per_second: 1000}
          webhook: {listen: "127.0.0.1:0", secret_file: \(directory)/webhook.secret}
        state_dir: \(directory)/state
        """
}
nonisolated(unsafe) let controlPath = daemon.controlPath
let pid = daemon.process.processIdentifier
let stateDB = daemon.directory + "/state/state.db"

/// Round trips of the current interval, in nanoseconds, by kind.
nonisolated(unsafe) let samples = NIOLockedValueBox<[String: [UInt64]]>([:])
nonisolated(unsafe) let failures = NIOLockedValueBox<[String: Int]>([:])
func record(_ kind: String, _ start: UInt64) { samples.withLockedValue { $0[kind, default: []].append(gw_monotonic_nsec() - start) } }
func failed(_ kind: String) { failures.withLockedValue { $0[kind, default: 0] += 1 } }
/// Set once everything is started: the load runs until then.
nonisolated(unsafe) var end = UInt64.max
nonisolated var running: Bool { gw_monotonic_nsec() < end }

func call(_ connection: VarlinkConnection, _ method: String, _ parameters: [String: JSONValue] = [:]) -> VarlinkReply? {
    try? connection.call(VarlinkCall(method: "io.gatewayd.Gateway." + method, parameters: parameters))
}

/// A load thread: `body` in a loop with `pause` seconds between rounds, until the end.
func loop(_ name: String, pause: Double, _ body: @escaping @Sendable (Int) -> Void) -> Thread {
    let thread = Thread {
        var round = 0
        while running {
            body(round)
            round += 1
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
        }
    }
    thread.name = name
    thread.start()
    return thread
}

// Exec quick commands: the fast one (timed), the one that times out, the 10 MB one; six callers
// at times against max_concurrent 4, so some are refused `busy`.
var threads: [Thread] = []
for caller in 0..<6 {
    threads.append(loop("exec\(caller)", pause: 0.05) { round in
        guard let connection = try? VarlinkConnection(path: controlPath) else { return failed("connect") }
        let name = caller == 5 && round % 20 == 0 ? "slow" : caller == 4 && round % 50 == 0 ? "big" : "hi"
        let start = gw_monotonic_nsec()
        guard let reply = call(connection, "RunQuickCommand", ["name": .string(name)]) else { return failed("exec") }
        // The slow one's timeout and the busy refusals are expected: counted by kind, not timed.
        let outcome = reply.error.map { error -> String in
            let message = reply.parameters["message"]?.string ?? error
            return message.contains("already running") ? "busy" : message
        }
        if let outcome { failed("\(name) \(outcome)") } else { record(name == "hi" ? "exec" : name, start) }
    })
}
// Messages over the control socket: new chats all the time (sessions created, then evicted).
threads.append(loop("messages", pause: 0.02) { round in
    guard let connection = try? VarlinkConnection(path: controlPath) else { return failed("connect") }
    let start = gw_monotonic_nsec()
    guard let reply = call(connection, "SendMessage", ["text": .string("soak \(round)"), "chat": .string("soak\(round % 1000)")]),
          reply.error == nil else { return failed("message") }
    record("message", start)
})
// IRC through ngircd: a person in #soak addressing the bot, timed to its reply.
nonisolated(unsafe) let soaker = try LineClient(port: irc.port)
try soaker.register("soaker", joining: "#soak")
// The bot may have joined before the soaker did: it is there once it answers.
soaker.send("PRIVMSG #soak :gatewayd: are you there")
precondition(soaker.waitFor(timeout: .seconds(60)) { $0.hasSuffix(":echo: are you there") } != nil, "the bot did not answer on IRC")
// One a second: ngircd's own flood protection delays a client that sends faster.
threads.append(loop("irc", pause: 1) { round in
    let start = gw_monotonic_nsec()
    soaker.send("PRIVMSG #soak :gatewayd: irc \(round)")
    if soaker.waitFor(timeout: .seconds(10), { $0.hasSuffix(":echo: irc \(round)") }) != nil { record("irc", start) } else { failed("irc") }
})
// The webhook: signed deliveries on a kept-alive connection (reopened when it closes).
nonisolated(unsafe) let webhookPort: Int = {
    guard let connection = try? VarlinkConnection(path: controlPath), let status = call(connection, "GetStatus") else { return 0 }
    let detail = status.parameters["status"]?.object?["platform_health"]?.array?
        .first { $0.object?["name"]?.string == "webhook" }?.object?["detail"]?.string ?? ""
    return Int(detail.split(separator: ":").last.map(String.init) ?? "") ?? 0
}()
threads.append(loop("webhook", pause: 0.05) { round in
    let body = #"{"chat":"hook\#(round % 50)","user":"hook","text":"webhook \#(round)"}"#
    let signature = "sha256=" + HMACSHA256.hex(HMACSHA256.authenticationCode(for: Array(body.utf8), key: secret))
    let start = gw_monotonic_nsec()
    let response = try? HTTPExchange.request(port: webhookPort, method: "POST", path: "/webhook", body: body,
                                             headers: ["X-Hub-Signature-256: " + signature], timeout: .seconds(10))
    if response?.status == 200 { record("webhook", start) } else { failed("webhook \(response?.status ?? 0)") }
})
// A reload every minute, a drain and resume every 5 minutes.
threads.append(loop("lifecycle", pause: 60) { round in
    guard round > 0, let connection = try? VarlinkConnection(path: controlPath) else { return }
    if call(connection, "Reload")?.error != nil { failed("reload") }
    if round % 5 == 0 {
        if call(connection, "Drain", ["timeout_usec": .int(2_000_000)])?.error != nil { failed("drain") }
        Thread.sleep(forTimeInterval: 3)
        if call(connection, "Resume")?.error != nil { failed("resume") }
    }
})

// MARK: Sampling

struct Sample {
    var at: Double, rssKiB: Double, fds: Double, threads: Double, sessions: Double, dbKiB: Double
    var p50: [String: Double], p99: [String: Double], count: [String: Int]
}
func status(_ key: String) -> Double {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").first { $0.hasPrefix(key + ":") }
        .flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first }.flatMap { Double($0) } ?? -1
}
func fileKiB(_ path: String) -> Double { Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1024 }
let sampler = try VarlinkConnection(path: controlPath)
var series: [Sample] = []
let started = gw_monotonic_nsec()
end = started + UInt64(duration * 1e9)
print("soak: \(Int(duration)) s, sampling every \(Int(interval)) s, slopes after \(Int(warmup)) s; gatewayd pid \(pid)")
print("     t   RSS MiB   fds  threads  sessions  db KiB   exec p50/p99 ms   message p50/p99 ms   irc p50/p99 ms   webhook p50/p99 ms   failures")
while running {
    Thread.sleep(forTimeInterval: interval)
    let taken = samples.withLockedValue { samples in defer { samples = [:] }; return samples }
    let fds = Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1)
    let sessions = Double(call(sampler, "GetStatus")?.parameters["status"]?.object?["sessions"]?.int ?? -1)
    var sample = Sample(at: Double(gw_monotonic_nsec() - started) / 1e9, rssKiB: status("VmRSS"), fds: fds, threads: status("Threads"),
                        sessions: sessions, dbKiB: fileKiB(stateDB) + fileKiB(stateDB + "-wal"), p50: [:], p99: [:], count: [:])
    for (kind, values) in taken {
        sample.p50[kind] = medianMicroseconds(values) / 1000
        sample.p99[kind] = percentileMicroseconds(values, 0.99) / 1000
        sample.count[kind] = values.count
    }
    series.append(sample)
    func pair(_ kind: String) -> String {
        String(format: "%7.2f/%-8.2f", sample.p50[kind] ?? .nan, sample.p99[kind] ?? .nan)
    }
    let figures = String(format: "%6.0f %9.1f %5.0f %8.0f %9.0f %7.0f", sample.at, sample.rssKiB / 1024, sample.fds, sample.threads,
                         sample.sessions, sample.dbKiB)
    let latencies: [String] = [pair("exec"), pair("message"), pair("irc"), pair("webhook")]
    let failed: [String] = failures.withLockedValue { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } }
    print(figures + "   " + latencies.joined(separator: "    ") + "   " + failed.joined(separator: " "))
    fflush(nil)
}
for thread in threads { while !thread.isFinished { Thread.sleep(forTimeInterval: 0.1) } }
daemon.stop()
irc.stop()

// MARK: Slopes: least squares over the samples after the warm-up, per hour.

func slope(_ values: [(Double, Double)]) -> Double {
    let points = values.filter { $0.1.isFinite }
    guard points.count >= 2 else { return .nan }
    let n = Double(points.count)
    let mx = points.reduce(0) { $0 + $1.0 } / n, my = points.reduce(0) { $0 + $1.1 } / n
    let sxx = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }, sxy = points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
    return sxx == 0 ? .nan : sxy / sxx * 3600
}
let steady = series.filter { $0.at >= warmup }
var slopes: [String: Double] = [
    "rss_mib_per_hour": slope(steady.map { ($0.at, $0.rssKiB / 1024) }),
    "fds_per_hour": slope(steady.map { ($0.at, $0.fds) }),
    "threads_per_hour": slope(steady.map { ($0.at, $0.threads) }),
    "sessions_per_hour": slope(steady.map { ($0.at, $0.sessions) }),
    "db_kib_per_hour": slope(steady.map { ($0.at, $0.dbKiB) }),
]
for kind in ["exec", "message", "irc", "webhook"] {
    slopes["\(kind)_p99_ms_per_hour"] = slope(steady.map { ($0.at, $0.p99[kind] ?? .nan) })
}
let totals = series.reduce(into: [String: Int]()) { totals, sample in for (kind, count) in sample.count { totals[kind, default: 0] += count } }
print("after the warm-up (\(steady.count) samples), per hour: " + slopes.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", "))
print("round trips: " + totals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
      + "; failures: " + failures.withLockedValue { $0.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") })
print(String(decoding: JSONValue.object([
    "seconds": .double(duration), "samples": .int(Int64(series.count)), "steady_samples": .int(Int64(steady.count)),
    "slopes": .object(slopes.mapValues { $0.isFinite ? .double($0) : .null }),
    "round_trips": .object(totals.mapValues { .int(Int64($0)) }),
    "failures": .object(failures.withLockedValue { $0 }.mapValues { .int(Int64($0)) }),
    "rss_mib": .object(["first": .double((steady.first?.rssKiB ?? -1) / 1024), "last": .double((steady.last?.rssKiB ?? -1) / 1024)]),
]).serialized(), as: UTF8.self))
