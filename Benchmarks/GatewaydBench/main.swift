// The built gatewayd as a whole, over its control socket, in one run. Release build, with the
// Swift runtime linked statically as contrib/install.sh installs it:
//   swift build -c release --static-swift-stdlib --scratch-path .build-static
//   .build-static/release/gatewayd-bench [--quick]
// Starts the gatewayd beside this binary with a notify socket, then measures: time
// from exec to READY=1, idle RSS, an exec quick command's round trip (RunQuickCommand and
// SendMessage "/hi") against a C posix_spawn baseline run here, GetStatus, and echo-agent
// messages/s with 16 clients; then the exec round trip while `metrics.listen` is scraped every
// 100 ms against not scraped (alternated), and a scrape's time over HTTP. Prints one JSON
// document last.
//   gatewayd-bench --senders 1000000 [--max 10000] [--idle-timeout 10] [--clients 8] [--keep]
// instead drives that many distinct senders through SendMessage (see Senders.swift) and reports
// the daemon's RSS before, during, after, and after `sessions.idle_timeout` evicted them.
import CControlBaseline
import CGatewayShims
import CGatewayTestShims
import CSpawnBaseline
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 200 : 2000
let loadSeconds = quick ? 0.5 : 2.0
func option(_ name: String) -> String? {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[index + 1]
}
let senders = option("--senders").flatMap { Int($0) }
let sessionsMax = option("--max").flatMap { Int($0) } ?? 10_000
let idleTimeout = option("--idle-timeout").flatMap { Int($0) } ?? 10

let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
let directory = String(cString: mkdtemp(strdup("/tmp/gatewayd-bench.XXXXXX"))!)
let socket = directory + "/control", notify = directory + "/notify", config = directory + "/gatewayd.yaml"
let sessionsLine = senders == nil ? "" : "\nsessions: {max: \(sessionsMax), idle_timeout: \(idleTimeout)s}"
let metricsPort = freeLoopbackPort()
try """
    quick_commands:
      hi: {type: exec, command: "echo hi"}
    exec: {max_concurrent: 64}
    metrics: {listen: "127.0.0.1:\(metricsPort)"}
    state_dir: \(directory)/state\(sessionsLine)
    """.write(toFile: config, atomically: true, encoding: .utf8)

let notifyFD = gw_unix_bind(notify, 0)
precondition(notifyFD >= 0)
let daemon = Process()
daemon.executableURL = URL(fileURLWithPath: me + "/gatewayd")
daemon.arguments = ["--config", config, "--socket", socket, "--log-target", "console"]
daemon.environment = ["PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notify]
daemon.standardError = FileHandle.nullDevice
let start = gw_monotonic_nsec()
try daemon.run()
var buffer = [UInt8](repeating: 0, count: 4096)
var ready: UInt64 = 0
while ready == 0 {
    var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
    let n = gw_recv_with_credentials(notifyFD, &buffer, buffer.count, &pid, &uid, &gid)
    precondition(n > 0)
    if String(decoding: buffer[0..<n], as: UTF8.self).contains("READY=1") { ready = gw_monotonic_nsec() }
}
let readyMs = Double(ready - start) / 1e6
// Keep reading notifications, as systemd does: a manager that stops reading would make
// sd_notify block in the daemon.
Thread.detachNewThread {
    var sink = [UInt8](repeating: 0, count: 4096)
    while recv(notifyFD, &sink, sink.count, 0) > 0 {}
}

// Idle RSS once it settled.
usleep(300_000)
let status = (try? String(contentsOfFile: "/proc/\(daemon.processIdentifier)/status", encoding: .utf8)) ?? ""
let rssKiB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
    .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? -1

if let senders {
    runSenders(socket: socket, pid: daemon.processIdentifier, total: senders,
               clients: option("--clients").flatMap { Int($0) } ?? 8, idleTimeout: idleTimeout)
    daemon.terminate()
    daemon.waitUntilExit()
    // --keep: the state directory stays (a million session rows, to time a start on).
    if CommandLine.arguments.contains("--keep") { print("kept: \(directory)") } else { try? FileManager.default.removeItem(atPath: directory) }
    exit(0)
}

func median(_ values: [UInt64]) -> Double { Double(values.sorted()[values.count / 2]) / 1000 }

func trips(_ request: String) -> [UInt64] {
    var latencies = [UInt64](repeating: 0, count: rounds)
    let rc = gwc_round_trips(socket, request, Int32(rounds), &latencies)
    precondition(rc == 0, "round trips failed: \(rc)")
    return latencies
}

func spawnBaseline() -> [UInt64] {
    var out = [CChar](repeating: 0, count: 256)
    var length = 0, status: Int32 = 0
    return (0..<rounds).map { _ in
        let t = gw_monotonic_nsec()
        precondition(gwb_spawn_collect("echo hi", &out, out.count, &length, &status) == 0)
        return gw_monotonic_nsec() - t
    }
}

let run = #"{"method":"io.gatewayd.Gateway.RunQuickCommand","parameters":{"name":"hi"}}"#
let send = #"{"method":"io.gatewayd.Gateway.SendMessage","parameters":{"text":"/hi"}}"#
let getStatus = #"{"method":"io.gatewayd.Gateway.GetStatus"}"#
let echo = #"{"method":"io.gatewayd.Gateway.SendMessage","parameters":{"text":"hello"}}"#
_ = trips(run)
_ = spawnBaseline()
var cSpawn: [UInt64] = [], runQuick: [UInt64] = [], sendQuick: [UInt64] = [], inside: [UInt64] = []
for _ in 0..<2 {
    cSpawn += spawnBaseline()
    var latencies = [UInt64](repeating: 0, count: rounds), durations = [UInt64](repeating: 0, count: rounds)
    precondition(gwc_round_trips_with_durations(socket, run, Int32(rounds), &latencies, &durations) == 0)
    runQuick += latencies
    // The runner's own spawn-to-reap time inside gatewayd (the reply's duration_usec), to
    // tell the daemon's path from the process's lifetime.
    inside += durations.map { $0 * 1000 }
    sendQuick += trips(send)
}
/// The daemon's CPU time so far (user + system), in microseconds.
func daemonCPU() -> Double {
    let stat = (try? String(contentsOfFile: "/proc/\(daemon.processIdentifier)/stat", encoding: .utf8)) ?? ""
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th.
    let fields = stat[(stat.lastIndex(of: ")") ?? stat.startIndex)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[12]), let system = Double(fields[13]) else { return 0 }
    return (user + system) * 1_000_000 / Double(sysconf(Int32(_SC_CLK_TCK)))
}

// 32 in flight (issue 16): 32 clients, each on its own connection, calling RunQuickCommand "hi"
// as fast as they are answered, against the C floor: 32 threads each spawning `/bin/sh -c
// 'echo hi'` and reading it to EOF. Alternated, twice each; commands/s and gatewayd's CPU per
// command under that load.
let inFlight = 32
var floorRates: [Double] = [], daemonRates: [Double] = [], cpuPerCommand: [Double] = []
for _ in 0..<2 {
    let total = quick ? 320 : 1280
    var latencies = [UInt64](repeating: 0, count: total)
    let t0 = gw_monotonic_nsec()
    precondition(gwb_run_concurrent("echo hi", Int32(inFlight), Int32(total), &latencies) == 0)
    floorRates.append(Double(total) / (Double(gw_monotonic_nsec() - t0) / 1e9))
    var done: UInt64 = 0
    let cpu0 = daemonCPU()
    precondition(gwc_throughput(socket, run, Int32(inFlight), loadSeconds, &done) == 0)
    cpuPerCommand.append((daemonCPU() - cpu0) / Double(max(done, 1)))
    daemonRates.append(Double(done) / loadSeconds)
}
// One at a time, the daemon's CPU per command.
let cpuSerial0 = daemonCPU()
_ = trips(run)
let cpuSerial = (daemonCPU() - cpuSerial0) / Double(rounds)

let statusTrips = trips(getStatus)
var completed: UInt64 = 0
precondition(gwc_throughput(socket, echo, 16, loadSeconds, &completed) == 0)
let echoRate = Double(completed) / loadSeconds

// Metrics (issue 19): RunQuickCommand's round trip not scraped, then scraped every 100 ms
// (Prometheus's default is every 15 s), alternated twice; every scrape timed, connect to close.
var quietTrips: [UInt64] = [], scrapedTrips: [UInt64] = [], scrapeTimes: [UInt64] = []
var scrapeBytes = 0
for _ in 0..<2 {
    quietTrips += trips(run)
    let scraper = Scraper()
    scraper.start(port: metricsPort, interval: 100_000)
    scrapedTrips += trips(run)
    scraper.stop()
    scrapeTimes += scraper.scrapes.times
    scrapeBytes = max(scrapeBytes, scraper.scrapes.bytes)
}
for _ in 0..<200 {
    let t = gw_monotonic_nsec()
    scrapeBytes = max(scrapeBytes, httpGet(port: metricsPort, path: "/metrics"))
    scrapeTimes.append(gw_monotonic_nsec() - t)
}

daemon.terminate()
daemon.waitUntilExit()
try? FileManager.default.removeItem(atPath: directory)

func format(_ value: Double) -> String { "\((value * 100).rounded() / 100)" }
let cMedian = median(cSpawn) / 1000, runMedian = median(runQuick) / 1000, sendMedian = median(sendQuick) / 1000
print("gatewayd benchmark (release)")
print("exec to READY=1:            \(format(readyMs)) ms (target < 50)")
print("idle RSS:                   \(rssKiB / 1024) MiB (\(rssKiB) KiB; target < 20 MiB)")
print("exec quick command, median: C posix_spawn \(format(cMedian)) ms, RunQuickCommand \(format(runMedian)) ms (x\(format(runMedian / cMedian))), SendMessage /hi \(format(sendMedian)) ms (x\(format(sendMedian / cMedian))) (target x1.3)")
print("  of which spawn to reap inside gatewayd (duration_usec): \(format(median(inside) / 1000)) ms")
let floorRate = floorRates.sorted()[floorRates.count / 2], daemonRate = daemonRates.sorted()[daemonRates.count / 2]
print("32 in flight:               C floor \(Int(floorRate))/s, RunQuickCommand \(Int(daemonRate))/s (x\(format(daemonRate / floorRate)); target >= 0.85), runs: C \(floorRates.map { Int($0) }), gatewayd \(daemonRates.map { Int($0) })")
print("gatewayd CPU per command:   \(Int(cpuPerCommand.sorted()[cpuPerCommand.count / 2])) us under load (target <= 100), \(Int(cpuSerial)) us one at a time")
print("GetStatus round trip:       \(format(median(statusTrips))) us median")
print("echo agent, 16 clients:     \(Int(echoRate)) messages/s")
let quietMedian = median(quietTrips) / 1000, scrapedMedian = median(scrapedTrips) / 1000
print("metrics: RunQuickCommand \(format(quietMedian)) ms not scraped, \(format(scrapedMedian)) ms scraped every 100 ms (x\(format(scrapedMedian / quietMedian)); target <= 1.03)")
print("metrics: a scrape over HTTP (connect to close), median \(format(median(scrapeTimes) / 1000)) ms of \(scrapeTimes.count), \(scrapeBytes) bytes (target < 5 ms)")
print("""
{"ready_ms":\(format(readyMs)),"idle_rss_kib":\(rssKiB),\
"exec_median_ms":{"c_posix_spawn":\(format(cMedian)),"run_quick_command":\(format(runMedian)),"send_message":\(format(sendMedian))},\
"exec_inside_gatewayd_median_ms":\(format(median(inside) / 1000)),"exec_ratio":{"run_quick_command":\(format(runMedian / cMedian)),"send_message":\(format(sendMedian / cMedian))},\
"in_flight_32":{"c_floor_per_s":\(Int(floorRate)),"run_quick_command_per_s":\(Int(daemonRate)),"ratio":\(format(daemonRate / floorRate))},\
"cpu_per_command_us":{"under_load":\(Int(cpuPerCommand.sorted()[cpuPerCommand.count / 2])),"one_at_a_time":\(Int(cpuSerial))},\
"get_status_median_us":\(format(median(statusTrips))),"echo_messages_per_s_16_clients":\(Int(echoRate)),\
"metrics":{"exec_median_ms_not_scraped":\(format(quietMedian)),"exec_median_ms_scraped":\(format(scrapedMedian)),"scrape_median_ms":\(format(median(scrapeTimes) / 1000))}}
""")
