// The IRC adapter under load, against a real ngircd (Debian's, started here on a loopback port
// with penalties off so the server does not throttle the test users). Release build:
//   swift run -c release gatewayd-irc-bench [--quick]
//   swift run -c release gatewayd-irc-bench --strangers 1000 [--messages 20]   (see StrangerFlood.swift)
//   swift run -c release gatewayd-irc-bench --refusal-memory                    (see RefusalMemory.swift)
// 16 users (C threads) each send their messages to the bot in private, one at a time (each waits
// for its answer; `--window N` lets N go unanswered); the bot (echo agent, flood limit raised out
// of the way) answers each. Messages/s = all replies over the time from the first message to the
// last reply, median of 3 runs. A window of 8 measures ngircd instead: it writes without
// TCP_NODELAY, and its small writes then wait ~40 ms on delayed ACKs (2.9k msg/s, flat).
// Last line: one JSON document.
import CGatewayShims
import CGatewayTestShims
import CIRCLoad
import Foundation
import GatewayCore
import Platforms

func argument(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
}
if CommandLine.arguments.contains("--refusal-memory") {
    refusalMemory()
    exit(0)
}
let quick = CommandLine.arguments.contains("--quick")
let strangers = argument("--strangers").flatMap { Int($0) }
let perUser = quick ? 100 : 500
let users = 16
let window = Int32(argument("--window").flatMap { Int($0) } ?? 1)
// A thousand strangers need more descriptors than the usual soft limit of 1024 (ngircd inherits it).
var limit = rlimit()
getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
limit.rlim_cur = limit.rlim_max
setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

let port = Int(gw_free_loopback_port())
let directory = NSTemporaryDirectory() + "gatewayd-irc-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
try """
    [Global]
    Name = irc.bench.test
    Info = gatewayd benchmark
    Listen = 127.0.0.1
    Ports = \(port)
    MotdPhrase = "bench"
    AdminInfo1 = gatewayd
    AdminInfo2 = bench
    AdminEMail = root@localhost
    [Limits]
    MaxConnectionsIP = 0
    MaxPenaltyTime = 0
    [Options]
    PAM = no
    Ident = no
    DNS = no
    """.write(toFile: directory + "/ngircd.conf", atomically: true, encoding: .utf8)
let server = Process()
server.executableURL = URL(fileURLWithPath: "/usr/sbin/ngircd")
server.arguments = ["-n", "-f", directory + "/ngircd.conf"]
server.standardOutput = FileHandle.nullDevice
server.standardError = FileHandle.nullDevice
try server.run()
func stopServer() {
    kill(server.processIdentifier, SIGKILL)
    server.waitUntilExit()
    try? FileManager.default.removeItem(atPath: directory)
}
defer { stopServer() }

if let strangers {
    try await strangerFlood(port: port, strangers: strangers, messages: argument("--messages").flatMap { Int($0) } ?? 20,
                            admin: argument("--admin") ?? "irc:boss!~boss@127.0.0.1")
    stopServer()
    exit(0)
}

// Queue mode: a user's next message waits for the previous turn rather than interrupting it, so
// every message gets its own answer.
let dispatcher = Dispatcher(config: ConfigLoader.parse("""
    access: {allowed_users: ["irc:*"]}
    busy_input_mode: queue
    """).config, agent: EchoAgent())
await dispatcher.markRunning()
let adapter = try IRCAdapter(configuration: IRCConfiguration(
    host: "127.0.0.1", port: port, nick: "gatewayd", channels: [], floodBurst: 1_000_000, floodPerSecond: 1_000_000,
    reconnectMin: .milliseconds(50), reconnectMax: .milliseconds(200)))
try await adapter.start(inbound: dispatcher)
await adapter.waitForRegistration()

var rates: [Double] = []
for _ in 0..<3 {
    var elapsed: UInt64 = 0
    let rc = gwi_irc_load(Int32(port), "gatewayd", Int32(users), Int32(perUser), window, &elapsed)
    precondition(rc == 0, "IRC load failed: errno \(rc)")
    rates.append(Double(users * perUser) / (Double(elapsed) / 1e9))
}
await adapter.stop()
let median = rates.sorted()[1]
print("IRC adapter benchmark (release), ngircd, \(users) users x \(perUser) private messages (window \(window)), echo agent")
print("messages/s (reply received): \(Int(median)) (runs: \(rates.map { Int($0) }))")
print(#"{"irc_messages_per_s":\#(Int(median))}"#)
