// Messages/s and end-to-end latency through gatewayd's Telegram adapter, in one run. Release build:
//   swift build -c release --product gatewayd-telegram-bench && swift build -c release --product gatewayd
//   .build/release/gatewayd-telegram-bench [--quick]
// A fake Bot API (the tests' FakeTelegramServer: HTTP+JSON as Telegram speaks it) and the gatewayd
// beside this binary polling it, echo agent, the delivery ledger on (state.db). Latency: one user,
// from the message's arrival at the fake to the reply's `sendMessage` there, median and p99.
// Throughput: 16 users, each sending its next message once its reply came. The baseline, on the
// same fake in the same run: a minimal echo bot in this process (one thread, getUpdates then a
// sendMessage per update over one keep-alive connection), the floor of any bot on this fake.
// Prints one JSON document last.
import BenchSupport
import CGatewayShims
import Foundation
import GatewayTestSupport
import JSON
#if canImport(Glibc)
import Glibc
#endif

let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 100 : 500
let loadSeconds = quick ? 2.0 : 5.0
let users = 16

/// One keep-alive HTTP/1.1 connection, blocking: JSON POSTs, answers with Content-Length.
final class BlockingHTTP: BlockingConnection {
    func post(_ path: String, _ body: JSONValue) -> JSONValue {
        let bytes = body.serialized()
        send(Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8) + bytes)
        while true {
            if let end = find(Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if pending.count >= end + 4 + length {
                    let body = Array(pending[(end + 4)..<(end + 4 + length)])
                    pending.removeFirst(end + 4 + length)
                    return (try? JSONValue.parse(body)) ?? .null
                }
            }
            readMore()
        }
    }
}

/// Arrival at the fake to the reply's sendMessage, per message, for `user` (its chat is its id).
func latencies(_ fake: FakeTelegramServer, rounds: Int, user: Int64) -> [UInt64] {
    var samples: [UInt64] = []
    var sent = fake.sent.filter { $0.chat == user }.count
    for round in 0..<rounds {
        let start = gw_monotonic_nsec()
        fake.post("m\(round)", from: user)
        sent += 1
        precondition(fake.waitForSent(toChat: user, count: sent), "no reply to m\(round)")
        samples.append(gw_monotonic_nsec() - start)
    }
    return samples
}

/// Messages/s with `users` users, each sending its next once its reply came.
func load(_ fake: FakeTelegramServer, firstUser: Int64) -> Double {
    let counts = (0..<users).map { user in fake.sent.filter { $0.chat == firstUser + Int64(user) }.count }
    return throughput(clients: users, seconds: loadSeconds) { client, round in
        let user = firstUser + Int64(client)
        fake.post("load \(round)", from: user)
        precondition(fake.waitForSent(toChat: user, count: counts[client] + round + 1), "no reply for user \(user)")
    }
}

// MARK: The baseline: a minimal echo bot on the same fake.

let baselineFake = try FakeTelegramServer()
let stopBot = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
stopBot.initialize(to: false)
nonisolated(unsafe) let stopFlag = stopBot
let botDone = DispatchSemaphore(value: 0)
Thread.detachNewThread {
    let http = BlockingHTTP(port: baselineFake.port)
    let base = "/bot\(baselineFake.token)/"
    var offset: Int64 = 0
    while !stopFlag.pointee {
        let updates = http.post(base + "getUpdates", ["offset": .int(offset), "timeout": 1])
        for update in updates.object?["result"]?.array ?? [] {
            guard let id = update.object?["update_id"]?.int, let message = update.object?["message"]?.object,
                  let chat = message["chat"]?.object?["id"]?.int, let text = message["text"]?.string else { continue }
            offset = max(offset, id + 1)
            _ = http.post(base + "sendMessage", ["chat_id": .int(chat), "text": .string("echo: " + text)])
        }
    }
    botDone.signal()
}
_ = latencies(baselineFake, rounds: 50, user: 1)
let baselineLatency = latencies(baselineFake, rounds: rounds, user: 1)
let baselineRate = load(baselineFake, firstUser: 100)
stopBot.pointee = true
botDone.wait()
baselineFake.stop()

// MARK: Through gatewayd.

let fake = try FakeTelegramServer()
let daemon = try BenchDaemon(name: "gatewayd-telegram-bench") { directory in
    try! (fake.token + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
    return """
        access: {allowed_users: ["telegram:*"]}
        busy_input_mode: queue
        platforms:
          telegram: {token_file: \(directory)/token, api_base: "\(fake.baseURL)", poll_timeout: 1s}
        sessions: {max: 100000}
        state_dir: \(directory)/state
        """
}
_ = latencies(fake, rounds: 50, user: 1)
let gatewayLatency = latencies(fake, rounds: rounds, user: 1)
let gatewayRate = load(fake, firstUser: 100)
let rss = daemon.rssKiB
daemon.stop()
fake.stop()

func format(_ value: Double) -> String { String(format: "%.1f", value) }
let (b50, b99) = (medianMicroseconds(baselineLatency), percentileMicroseconds(baselineLatency, 0.99))
let (g50, g99) = (medianMicroseconds(gatewayLatency), percentileMicroseconds(gatewayLatency, 0.99))
print("latency, one user (\(rounds) messages): minimal bot p50 \(format(b50)) us p99 \(format(b99)) us; gatewayd p50 \(format(g50)) us p99 \(format(g99)) us (x\(String(format: "%.2f", g50 / b50)) at p50)")
print("\(users) users: minimal bot \(format(baselineRate)) messages/s, gatewayd \(format(gatewayRate)) messages/s (x\(String(format: "%.2f", gatewayRate / baselineRate)))")
print("gatewayd RSS after the run: \(rss / 1024) MiB")
print(String(decoding: JSONValue.object([
    "rounds": .int(Int64(rounds)), "users": .int(Int64(users)),
    "baseline_p50_us": .double(b50), "baseline_p99_us": .double(b99), "gateway_p50_us": .double(g50), "gateway_p99_us": .double(g99),
    "baseline_messages_per_s": .double(baselineRate), "gateway_messages_per_s": .double(gatewayRate), "rss_kib": .int(Int64(rss)),
]).serialized(), as: UTF8.self))
