import Foundation
import GatewayTestSupport
import NIOConcurrencyHelpers
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `agent.backend: openai` in a real gatewayd, against the fake server (the real one is in
/// OpenAIRealServerTests): answers, history across a kill -9, /new, usage in `sessions`, the
/// breaker in `status` and `health`, and the key nowhere but the Authorization header.
@Suite("gatewayd with the openai backend", .timeLimit(.minutes(2)), .ownThread)
struct OpenAIDaemonTests {
    static let key = "sk-daemon-test-\(UInt32.random(in: 0...UInt32.max))"

    func start(_ server: FakeOpenAIServer, in directory: String, extra: String = "") throws -> ForegroundDaemon {
        try "\(Self.key)\n".write(toFile: directory + "/openai.key", atomically: true, encoding: .utf8)
        try """
            agent:
              backend: openai
              openai:
                base_url: \(server.baseURL)
                model: fake-model
                api_key_file: \(directory)/openai.key
                system_prompt: "Be brief."
                retries: 0
            \(extra)
            control: {socket: \(directory)/control.sock}
            state_dir: \(directory)/state
            """.write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        return try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml", "--log-target", "console"],
                                    environment: environment(with: [:]), directory: directory)
    }

    func ctl(_ directory: String, _ arguments: [String]) throws -> ProcessOutput {
        try run([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock"] + arguments)
    }

    func messages(_ request: FakeOpenAIServer.Request) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
              let list = object["messages"] as? [[String: Any]] else { return [] }
        return list.map { "\($0["role"] ?? ""): \($0["content"] ?? "")" }
    }

    @Test("a turn is answered line by line; the next one carries its history, across a kill -9; /new clears it; tokens summed")
    func historyAndUsage() throws {
        let directory = makeTemporaryDirectory("gatewayd-openai")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.stream(["Paris is the capital.\n", "Anything else?"], usage: (30, 8)))
        var daemon = try start(server, in: directory)
        let first = try ctl(directory, ["send", "--chat", "ops", "Capital of France?"])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardOutput == "Paris is the capital.\nAnything else?\n", "\(first.standardOutput)")
        let request = try #require(server.requests.first)
        #expect(request.headers["authorization"] == "Bearer \(Self.key)")
        #expect(messages(request) == ["system: Be brief.", "user: Capital of France?"])

        let sessions = try ctl(directory, ["sessions"])
        #expect(sessions.standardOutput.contains("TOKENS IN"), "\(sessions.standardOutput)")
        #expect(sessions.standardOutput.split(separator: "\n").contains { $0.hasSuffix("\t30\t8") }, "\(sessions.standardOutput)")

        // kill -9: the history is in state.db.
        kill(daemon.process.pid, SIGKILL)
        _ = daemon.process.wait()
        daemon = try start(server, in: directory)
        server.script(.stream(["Madrid."], usage: (50, 2)))
        let second = try ctl(directory, ["send", "--chat", "ops", "And Spain?"])
        #expect(second.standardOutput == "Madrid.\n", "\(second.standardOutput) \(second.standardError)")
        #expect(messages(server.requests[1]) == ["system: Be brief.", "user: Capital of France?",
                                                 "assistant: Paris is the capital.\nAnything else?", "user: And Spain?"])
        let summed = try ctl(directory, ["sessions", "--json"])
        #expect(summed.standardOutput.contains(#""tokens_in":80"#) && summed.standardOutput.contains(#""tokens_out":10"#),
                "\(summed.standardOutput)")

        // /new: a fresh conversation.
        _ = try ctl(directory, ["send", "--chat", "ops", "/new"])
        server.script(.stream(["Hi."]))
        _ = try ctl(directory, ["send", "--chat", "ops", "Hello"])
        #expect(messages(server.requests[2]) == ["system: Be brief.", "user: Hello"])

        let (status, log) = daemon.stop()
        #expect(status == 0)
        #expect(!log.contains(Self.key), "the key is never logged")
    }

    @Test("gatewayctl send prints the answer's first line while the rest is still being generated (SendMessage with more)")
    func streamedToTheClient() throws {
        let directory = makeTemporaryDirectory("gatewayd-openai-stream")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let gate = FakeOpenAIServer.Gate()
        server.script(.gated(before: ["First line.\n"], gate: gate, after: ["Second line."]))
        let daemon = try start(server, in: directory)
        let client = try TestChild([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "send", "--chat", "ops", "hi"],
                                   standardOutput: .pipe, standardError: .null)
        // The server holds the rest back until the client printed the first line: without
        // streaming, the client would print nothing until the gate's 30 s ran out.
        var received: [UInt8] = []
        var byte: UInt8 = 0
        var entry = pollfd(fd: client.standardOutput, events: Int16(POLLIN), revents: 0)
        while !received.contains(UInt8(ascii: "\n")), poll(&entry, 1, 20_000) == 1, read(client.standardOutput, &byte, 1) == 1 {
            received.append(byte)
        }
        #expect(String(decoding: received, as: UTF8.self) == "First line.\n")
        gate.open()
        let rest = String(decoding: client.readToEnd().standardOutput, as: UTF8.self)
        #expect(client.wait() == 0)
        #expect(rest == "Second line.\n", "\(rest)")
        let json = try ctl(directory, ["send", "--json", "again"])
        #expect(json.standardOutput.contains(#"["Hello there.","Second line."]"#), "\(json.standardOutput)")
        _ = daemon.stop()
    }

    @Test("a reload to another server: the running turn finishes on the old one, the next turn goes to the new one")
    func reloadSwapsTheBackend() throws {
        let directory = makeTemporaryDirectory("gatewayd-openai-reload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let old = try FakeOpenAIServer(), new = try FakeOpenAIServer()
        defer { old.stop(); new.stop() }
        let gate = FakeOpenAIServer.Gate()
        old.script(.gated(before: ["Old first.\n"], gate: gate, after: ["Old last."]))
        new.setDefault(.stream(["From the new one."]))
        let daemon = try start(old, in: directory)
        let running = try TestChild([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "send", "--chat", "a", "q1"],
                                    standardOutput: .pipe, standardError: .null)
        let deadline = ContinuousClock.now + .seconds(20)
        while old.requests.isEmpty && ContinuousClock.now < deadline { usleep(10_000) }
        let text = try String(contentsOfFile: directory + "/gatewayd.yaml", encoding: .utf8)
        try text.replacingOccurrences(of: old.baseURL, with: new.baseURL).write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        let reload = try ctl(directory, ["reload"])
        #expect(reload.status == 0, "\(reload.standardOutput) \(reload.standardError)")
        let next = try ctl(directory, ["send", "--chat", "b", "q2"])
        #expect(next.standardOutput == "From the new one.\n", "\(next.standardOutput)")
        gate.open()
        let finished = String(decoding: running.readToEnd().standardOutput, as: UTF8.self)
        _ = running.wait()
        #expect(finished == "Old first.\nOld last.\n", "\(finished)")
        #expect(old.requests.count == 1 && new.requests.count == 1)
        let (exit, _) = daemon.stop()
        #expect(exit == 0)
    }

    @Test("a refused key: one clear reply; a failing backend: the breaker opens, status shows it, health is not ready")
    func failuresAreTold() throws {
        let directory = makeTemporaryDirectory("gatewayd-openai-fail")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.status(401, message: "Incorrect API key provided"))
        let daemon = try start(server, in: directory)
        let refused = try ctl(directory, ["send", "hi"])
        #expect(refused.standardOutput.contains("the agent backend refused the API key (HTTP 401"), "\(refused.standardOutput)")
        #expect(server.requests.count == 1)

        server.setDefault(.status(503, message: "overloaded"))
        for _ in 0..<4 { _ = try ctl(directory, ["send", "hi"]) }
        let status = try ctl(directory, ["status"])
        #expect(status.standardOutput.contains("Agent: openai \(server.baseURL) (fake-model): breaker open, 5 failures in a row"),
                "\(status.standardOutput)")
        #expect(status.standardOutput.contains("HTTP 503: overloaded"))
        let json = try ctl(directory, ["status", "--json"])
        #expect(json.standardOutput.contains(#""breaker":"open""#) && !json.standardOutput.contains(Self.key), "\(json.standardOutput)")
        let fast = try ctl(directory, ["send", "hi"])
        #expect(fast.standardOutput.contains("unavailable after 5 failures in a row"), "\(fast.standardOutput)")
        #expect(server.requests.count == 5, "an open breaker sends nothing")
        let health = try ctl(directory, ["health"])
        #expect(health.status == 1, "\(health.standardOutput)")
        #expect(health.standardOutput.contains("the agent backend is unavailable"), "\(health.standardOutput)")
        let (exit, log) = daemon.stop()
        #expect(exit == 0)
        #expect(log.contains("agent_error") || log.contains("agent backend attempt failed"), "an error record per failure")
        #expect(!log.contains(Self.key))
    }

    @Test("/stop closes the backend's connection at once and no more parts reach the chat")
    func stopCutsTheRequest() throws {
        let directory = makeTemporaryDirectory("gatewayd-openai-stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.hold(["Thinking...\n"]))
        let daemon = try start(server, in: directory, extra: "busy_input_mode: interrupt")
        let events = try TestChild([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "send", "--timeout", "20",
                                    "--chat", "ops", "a long question"], standardOutput: .pipe, standardError: .pipe)
        // The turn runs once the server has the request; /stop from the same chat cuts it.
        let deadline = ContinuousClock.now + .seconds(20)
        while server.requests.isEmpty && ContinuousClock.now < deadline { usleep(10_000) }
        let stop = try ctl(directory, ["send", "--chat", "ops", "/stop"])
        #expect(stop.standardOutput.contains("Stopped."), "\(stop.standardOutput)")
        let closed = try waitBlocking { await server.waitForClientCloses(1, timeout: .seconds(10)) }
        #expect(closed, "the backend saw its connection closed")
        let output = String(decoding: events.readToEnd().standardOutput, as: UTF8.self)
        _ = events.wait()
        #expect(!output.contains("Anything"), "\(output)")
        _ = daemon.stop()
    }
}

extension OpenAIDaemonTests {
    /// `LoadCredential=openai_api_key:...`: the key from `$CREDENTIALS_DIRECTORY` when the config
    /// names no file; one that is there but unusable is a config error, not a silent turn without
    /// a key (which the server would answer with a 401 pointing nowhere near the cause).
    @Test("the systemd credential openai_api_key is the primary's key; an empty one is refused by --check-config")
    func credentialDirectory() throws {
        let directory = makeTemporaryDirectory("gatewayd-openai-cred")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let credentials = directory + "/credentials"
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        try """
            agent: {backend: openai, openai: {base_url: "\(server.baseURL)", model: m, retries: 0}}
            control: {socket: \(directory)/control.sock}
            state_dir: \(directory)/state
            """.write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        let check = [TestPaths.product("gatewayd"), "--check-config", "--config", directory + "/gatewayd.yaml"]
        let withCredentials = environment(with: ["CREDENTIALS_DIRECTORY": credentials])

        // None there: a server that wants no key.
        #expect(try run(check, environment: withCredentials).status == 0)
        try "".write(toFile: credentials + "/openai_api_key", atomically: true, encoding: .utf8)
        let empty = try run(check, environment: withCredentials)
        #expect(empty.status != 0, "\(empty.standardOutput)")
        #expect((empty.standardOutput + empty.standardError).contains("openai_api_key is empty"), "\(empty.standardOutput) \(empty.standardError)")

        try "\(Self.key)\n".write(toFile: credentials + "/openai_api_key", atomically: true, encoding: .utf8)
        let daemon = try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml", "--log-target", "console"],
                                          environment: withCredentials, directory: directory)
        let answer = try ctl(directory, ["send", "hi"])
        #expect(answer.standardOutput == "Hello there.\nSecond line.\n", "\(answer.standardOutput) \(answer.standardError)")
        #expect(server.requests.first?.headers["authorization"] == "Bearer \(Self.key)")
        let (_, log) = daemon.stop()
        #expect(!log.contains(Self.key))
    }
}

/// Runs an async wait from a blocking (own-thread) test.
func waitBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) throws -> T {
    let result = NIOLockedValueBox<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value = await body()
        result.withLockedValue { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLockedValue { $0! }
}
