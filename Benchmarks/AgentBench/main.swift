// The OpenAI-compatible agent backend's own cost, in one run. Release build:
//   swift build -c release --product gatewayd-agent-bench && swift build -c release --product gatewayd
//   .build/release/gatewayd-agent-bench [--quick]
// Starts a fake chat completions server that answers at once (two lines, streamed), and the
// gatewayd beside this binary with `agent.backend: openai` pointing at it. Then, against the same
// fake: a direct client's time to the first streamed line and to the end of the answer, and the
// same through gatewayd (SendMessage with `more`, so each line comes as gatewayd sends it), as
// medians and their difference (the gateway's added latency); then turns/s with 16 sessions at
// once through gatewayd against 16 direct clients. Prints one JSON document last.
import BenchSupport
import CGatewayShims
import Foundation
import GatewayTestSupport
import JSON
import VarlinkClient
import VarlinkProtocol
#if canImport(Glibc)
import Glibc
#endif

let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 100 : 1000
let loadSeconds = quick ? 1.0 : 3.0
let clients = 16

let fake = try FakeOpenAIServer()
fake.setDefault(.stream(["Hello there.\n", "Second line."]))

let daemon = try BenchDaemon(name: "gatewayd-agent-bench") { directory in
    """
    agent:
      backend: openai
      openai: {base_url: "\(fake.baseURL)", model: fake, system_prompt: "Be brief.", retries: 0}
    sessions: {max: 100000}
    state_dir: \(directory)/state
    """
}
let controlPath = daemon.controlPath

// MARK: The direct client: what any program talking to the server itself would see.

/// One keep-alive HTTP/1.1 connection to the fake, blocking.
final class DirectClient: BlockingConnection {
    /// Nanoseconds to the first content event and to the end of the response.
    func turn(_ text: String) -> (first: UInt64, last: UInt64) {
        let body = JSONValue.object([
            "model": "fake", "stream": true, "stream_options": ["include_usage": true], "max_tokens": 512,
            "messages": [["role": "system", "content": "Be brief."], ["role": "user", "content": .string(text)]],
        ]).serialized()
        let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Accept: text/event-stream\r\nContent-Length: \(body.count)\r\n\r\n"
        let start = gw_monotonic_nsec()
        send(Array(head.utf8) + body)
        var first: UInt64 = 0
        while true {
            if first == 0, find(Array("\"content\":\"".utf8)) != nil { first = gw_monotonic_nsec() - start }
            if let end = find(Array("0\r\n\r\n".utf8)) {
                pending.removeFirst(end + 5)
                return (first, gw_monotonic_nsec() - start)
            }
            readMore()
        }
    }
}

// MARK: Through gatewayd.

func sendMessage(_ connection: VarlinkConnection, _ text: String, chat: String, more: Bool) -> (first: UInt64, last: UInt64) {
    let start = gw_monotonic_nsec()
    var first: UInt64 = 0
    let call = VarlinkCall(method: "io.gatewayd.Gateway.SendMessage", parameters: ["text": .string(text), "chat": .string(chat)], more: more)
    if more {
        try! connection.stream(call) { reply in
            precondition(reply.error == nil, "\(reply)")
            if first == 0, reply.parameters["replies"]?.array?.isEmpty == false { first = gw_monotonic_nsec() - start }
            return true
        }
    } else {
        let reply = try! connection.call(call)
        precondition(reply.error == nil && reply.parameters["replies"]?.array?.count == 2, "\(reply)")
        first = gw_monotonic_nsec() - start
    }
    return (first, gw_monotonic_nsec() - start)
}

let median = medianMicroseconds

// Warm both paths, then alternate them so drift hits both alike.
let direct = DirectClient(port: fake.port)
let control = try VarlinkConnection(path: controlPath)
for index in 0..<50 {
    _ = direct.turn("warm \(index)")
    _ = sendMessage(control, "warm \(index)", chat: "warm\(index)", more: true)
}
var directFirst: [UInt64] = [], directLast: [UInt64] = [], gatewayFirst: [UInt64] = [], gatewayLast: [UInt64] = []
for index in 0..<rounds {
    let d = direct.turn("question \(index)")
    directFirst.append(d.first)
    directLast.append(d.last)
    // A new session each round: every turn sends the same request as the direct client's.
    let g = sendMessage(control, "question \(index)", chat: "bench\(index)", more: true)
    gatewayFirst.append(g.first)
    gatewayLast.append(g.last)
}

func throughput(_ body: @escaping @Sendable (Int, Int) -> Void) -> Double {
    BenchSupport.throughput(clients: clients, seconds: loadSeconds, body)
}

nonisolated(unsafe) var directClients = (0..<clients).map { _ in DirectClient(port: fake.port) }
nonisolated(unsafe) var controlClients = (0..<clients).map { _ in try! VarlinkConnection(path: controlPath) }
let directRate = throughput { client, round in _ = directClients[client].turn("load \(round)") }
let gatewayRate = throughput { client, round in _ = sendMessage(controlClients[client], "load \(round)", chat: "load\(client)", more: false) }

let rss = daemon.rssKiB
daemon.stop()
fake.stop()

func format(_ value: Double) -> String { String(format: "%.1f", value) }
let df = median(directFirst), dl = median(directLast), gf = median(gatewayFirst), gl = median(gatewayLast)
print("first part, median: direct \(format(df)) us, through gatewayd \(format(gf)) us (+\(format(gf - df)) us, x\(String(format: "%.2f", gf / df)))")
print("last part, median: direct \(format(dl)) us, through gatewayd \(format(gl)) us (+\(format(gl - dl)) us, x\(String(format: "%.2f", gl / dl)))")
print("\(clients) sessions at once: direct \(format(directRate)) turns/s, through gatewayd \(format(gatewayRate)) turns/s (x\(String(format: "%.2f", gatewayRate / directRate)))")
print("gatewayd RSS after \(rounds + 50 + Int(gatewayRate * loadSeconds)) turns: \(rss / 1024) MiB")
print(String(decoding: JSONValue.object([
    "rounds": .int(Int64(rounds)), "direct_first_us": .double(df), "direct_last_us": .double(dl),
    "gateway_first_us": .double(gf), "gateway_last_us": .double(gl),
    "direct_turns_per_s": .double(directRate), "gateway_turns_per_s": .double(gatewayRate), "rss_kib": .int(Int64(rss)),
]).serialized(), as: UTF8.self))
