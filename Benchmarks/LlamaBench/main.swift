// Time to the first part of an answer through gatewayd (openai backend, IRC) against a direct
// client of the same real server: llama.cpp's (llama-cpp-python, SmolLM2-135M-Instruct, see
// Tests/GatewayTestSupport/LlamaServer.swift; .ci/install-deps installs both). Release build:
//   swift build -c release && .build/release/gatewayd-llama-bench [--turns N]
// Each turn, in alternating order: the direct client POSTs the same messages the gateway sends (system
// prompt, then the question; temperature 0) and reads the stream until the first finished line
// of content, the unit the gateway sends as its first part; then a person on IRC (ngircd on
// loopback) asks gatewayd the same question and waits for its first PRIVMSG. Before each gateway
// turn `/new` clears the channel's history, so both sides send the same prompt. The IRC flood
// limit is raised out of the way: at the default 5 lines/s the bucket, drained by each answer's
// lines, held the next first line up to 200 ms (a median of 200 ms over 20 turns, 78 ms over 10).
// Medians over N turns (default 10) and their ratio. Last line: one JSON document.
import Foundation
import GatewayCore
import GatewayTestSupport
#if canImport(Glibc)
import Glibc
#endif

func argument(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
}
/// What to end before exiting (the children are killed by pid, never left behind).
nonisolated(unsafe) var cleanup: () -> Void = {}
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("gatewayd-llama-bench: \(message)\n".utf8))
    cleanup()
    exit(1)
}
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

let turns = argument("--turns").flatMap { Int($0) } ?? 10
let systemPrompt = "You are a helpful assistant."
let question = "List five fruits, one per line."
let maxTokens = 64
if let reason = LlamaServer.unavailableReason { fail(reason) }
guard IRCServer.isAvailable else { fail("ngircd is not installed (.ci/install-deps installs it)") }
let gatewayd = TestPaths.product("gatewayd"), gatewayctl = TestPaths.product("gatewayctl")
guard FileManager.default.isExecutableFile(atPath: gatewayd) else { fail("\(gatewayd) is missing: swift build -c release first") }

let server = try LlamaServer()
let irc = try IRCServer()
let directory = makeTemporaryDirectory("gatewayd-llama-bench")
let socket = directory + "/control.sock"
try """
    control: {socket: \(socket)}
    agent:
      backend: openai
      openai:
        base_url: \(server.baseURL)
        model: \(LlamaServer.modelAlias)
        system_prompt: "\(systemPrompt)"
        temperature: 0
        max_tokens: \(maxTokens)
    access: {allowed_users: ["irc:*"]}
    platforms:
      irc: {server: "127.0.0.1:\(irc.port)", nick: gatewayd, channels: ["#bench"], flood_burst: 1000, flood_per_second: 1000}
    state_dir: \(directory)/state
    """.write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
let alice = try LineClient(port: irc.port)
try alice.register("alice", joining: "#bench")
let daemon = try TestChild([gatewayd, "--config", directory + "/gatewayd.yaml", "--log-target", "console"],
                           environment: environment(with: [:]), standardOutput: .null, standardError: .null)
cleanup = {
    kill(daemon.pid, SIGTERM)
    daemon.wait()
    server.stop()
    irc.stop()
    try? FileManager.default.removeItem(atPath: directory)
}
guard alice.waitFor(timeout: .seconds(30), { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" JOIN :#bench") }) != nil else {
    fail("gatewayd did not join #bench")
}

/// The direct client: milliseconds to the first content delta and to the first finished line.
func direct() throws -> (delta: Double, line: Double) {
    let events = SSEEvents()
    var content = ""
    var delta: Double?, line: Double?
    let start = ContinuousClock.now
    _ = try HTTPExchange.request(port: server.port, method: "POST", path: "/v1/chat/completions",
                                 body: LlamaServer.chatRequest([("system", systemPrompt), ("user", question)], maxTokens: maxTokens),
                                 timeout: .seconds(120)) { bytes, at in
        for event in events.feed(bytes, at: at) {
            guard let data = event.data, data != "[DONE]",
                  let chunk = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any],
                  let piece = ((chunk["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String,
                  !piece.isEmpty
            else { continue }
            if delta == nil { delta = milliseconds(at - start) }
            content += piece
            // The first line is finished at the first newline after some text.
            if line == nil, let newline = content.firstIndex(of: "\n"),
               !content[..<newline].trimmingCharacters(in: .whitespaces).isEmpty { line = milliseconds(at - start) }
        }
    }
    // An answer of one line: its end is the first part's end.
    let end = milliseconds(ContinuousClock.now - start)
    return (delta ?? end, line ?? end)
}

/// Waits until gatewayd has no turn in flight (the previous answer is all out).
func waitIdle() {
    let deadline = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < deadline {
        if let status = try? run([gatewayctl, "--socket", socket, "--json", "status"]),
           status.standardOutput.contains(#""turns_in_flight":0"#) { return }
        usleep(20_000)
    }
    fail("a turn stayed in flight for 120 s")
}

/// Through gatewayd: milliseconds from the question on IRC to the answer's first line there.
func throughGateway() -> Double {
    waitIdle()
    // /new's answer comes after every line of the previous answer (one channel, in order): past
    // it, the next line is the new answer's first.
    alice.send("PRIVMSG #bench :/new")
    guard alice.waitFor(timeout: .seconds(30), { $0.hasPrefix(":gatewayd!") && $0.contains(GatewayText.sessionReset) }) != nil else {
        fail("no answer to /new")
    }
    let start = ContinuousClock.now
    alice.send("PRIVMSG #bench :gatewayd: \(question)")
    guard alice.waitFor(timeout: .seconds(120), { $0.hasPrefix(":gatewayd!") && $0.contains(" PRIVMSG #bench :") }) != nil else {
        fail("no answer through gatewayd within 120 s")
    }
    return milliseconds(ContinuousClock.now - start)
}

// One of each first: the model's pages are warm, the first request's set-up is not measured.
_ = try direct()
_ = throughGateway()
var directDelta: [Double] = [], directLine: [Double] = [], gateway: [Double] = []
// The order alternates, so neither side always runs right after the other's request.
for turn in 0..<turns {
    if turn % 2 == 1 { gateway.append(throughGateway()) }
    let (delta, line) = try direct()
    directDelta.append(delta)
    directLine.append(line)
    if turn % 2 == 0 { gateway.append(throughGateway()) }
}
waitIdle()
let ratio = median(gateway) / max(median(directLine), 0.001)
print("Time to first part, llama.cpp (SmolLM2-135M, 1 thread), \(turns) turns, medians:")
print(String(format: "  direct client: first delta %.1f ms, first line %.1f ms", median(directDelta), median(directLine)))
print(String(format: "  through gatewayd (IRC): first line %.1f ms; ratio to direct %.2f", median(gateway), ratio))
print(String(format: #"{"direct_first_delta_ms":%.1f,"direct_first_line_ms":%.1f,"gatewayd_first_part_ms":%.1f,"ratio":%.3f}"#,
             median(directDelta), median(directLine), median(gateway), ratio))
cleanup()
