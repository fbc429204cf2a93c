import Foundation
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A real gatewayd with `agent.backend: openai` against the real server (llama.cpp's, see
/// `LlamaServer`), a recording proxy between them (`RecordingProxy`: bytes unchanged, requests
/// logged) so that the test sees what the gateway sent.
@Suite("The openai backend against llama.cpp's real server", .timeLimit(.minutes(5)), .serialized, .ownThread,
       .enabled(if: LlamaServer.isAvailable, Comment(rawValue: LlamaServer.unavailableReason ?? "")))
struct OpenAIGatewayRealServerTests {
    /// gatewayd's files in a directory of the test's.
    struct Setup {
        let directory = makeTemporaryDirectory("gatewayd-openai-real")
        var config: String { directory + "/gatewayd.yaml" }
        var socket: String { directory + "/control.sock" }

        /// A configuration with the openai backend on `baseURL` (temperature 0: the same answer
        /// each run) and the given platforms.
        func write(baseURL: String, platforms: String, access: String) throws {
            try """
                control: {socket: \(socket)}
                agent:
                  backend: openai
                  openai:
                    base_url: \(baseURL)
                    model: \(LlamaServer.modelAlias)
                    temperature: 0
                    max_tokens: 48
                    history_turns: 20
                access: {allowed_users: \(access)}
                platforms:
                \(platforms)
                state_dir: \(directory)/state
                """.write(toFile: config, atomically: true, encoding: .utf8)
        }

        func start() throws -> ForegroundDaemon {
            try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", config, "--log-target", "console"],
                                 environment: environment(with: [:]), directory: directory)
        }

        func send(_ text: String) throws -> ProcessOutput {
            try run([TestPaths.product("gatewayctl"), "--socket", socket, "--timeout", "120", "send", text])
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test("a turn through SendMessage is answered; the second turn sends the first turn's question and answer")
    func historyThroughSendMessage() throws {
        let server = try LlamaServer()
        defer { server.stop() }
        let proxy = try RecordingProxy(upstream: server.port)
        defer { proxy.stop() }
        let setup = Setup()
        defer { setup.remove() }
        try setup.write(baseURL: proxy.baseURL, platforms: "  local: {enabled: true}", access: #"["local:*"]"#)
        let daemon = try setup.start()

        let question = "My name is Ada. Say hello to me."
        let first = try setup.send(question)
        let second = try setup.send("What is my name?")
        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
        #expect(first.status == 0, "\(first.standardError)")
        #expect(!first.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "an answer with text")
        #expect(second.status == 0, "\(second.standardError)")
        #expect(!second.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)

        // What the server streamed for the first turn, and what the gateway sent with the second.
        let responses = proxy.records().filter { $0.event == "response" && $0.status == 200 }
        let requests = proxy.completionRequests()
        try #require(requests.count == 2, "\(requests)")
        try #require(responses.count >= 1)
        let firstAnswer = Self.streamedText(responses[0].body)
        #expect(!firstAnswer.isEmpty)
        let messages = Self.messages(requests[1])
        #expect(messages.contains { $0.role == "user" && $0.content == question }, "\(messages)")
        #expect(messages.contains { $0.role == "assistant" && $0.content.trimmingCharacters(in: .whitespacesAndNewlines)
                                        == firstAnswer.trimmingCharacters(in: .whitespacesAndNewlines) },
                "the first reply, as streamed, is in the history: \(firstAnswer.debugDescription) in \(messages)")
        #expect(messages.last?.role == "user" && messages.last?.content == "What is my name?")
        #expect(Self.messages(requests[0]).filter { $0.role == "assistant" }.isEmpty, "the first turn had no history")
        #expect(requests.allSatisfy { $0.contains(#""stream":true"#) || $0.contains(#""stream": true"#) })
    }

    @Test("through IRC, the first line of the answer reaches the channel while the completion is still streaming",
          .enabled(if: IRCServer.isAvailable, "ngircd is not installed (.ci/install-deps installs it)"))
    func firstPartBeforeTheEnd() async throws {
        let server = try await LlamaServer.started()
        defer { server.stop() }
        let irc = try await IRCServer.started()
        defer { irc.stop() }
        let proxy = try RecordingProxy(upstream: server.port, holding: true)
        defer { proxy.stop() }
        let setup = Setup()
        defer { setup.remove() }
        try setup.write(baseURL: proxy.baseURL,
                        platforms: ##"  irc: {server: "127.0.0.1:\##(irc.port)", nick: gatewayd, channels: ["#ops"], reconnect_min: 100ms}"##,
                        access: #"["irc:*"]"#)
        let alice = try await LineClient.registered(port: irc.port, "alice", joining: "#ops")
        defer { alice.close() }
        let daemon = try setup.start()
        try await onThread {
            #expect(alice.waitFor(timeout: .seconds(30)) { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" JOIN :#ops") } != nil)
            alice.send("PRIVMSG #ops :gatewayd: \(OpenAIRealServerTests.prompt)")
            // The proxy holds the stream's end (the finish_reason chunk, usage, [DONE]) until
            // release(): a line that arrives now was sent before the completion ended.
            let firstLine = alice.waitFor(timeout: .seconds(120)) { $0.hasPrefix(":gatewayd!") && $0.contains(" PRIVMSG #ops :") }
            let heldThen = proxy.records().contains { $0.event == "held" }
            let endedThen = proxy.records().contains { $0.event == "response" && $0.body.contains("[DONE]") }
            proxy.release()
            #expect(firstLine != nil, "no part of the answer reached #ops while the completion went on")
            #expect(!endedThen, "the stream had not ended when the first line came")
            print("first line \(firstLine ?? "none"); the proxy was holding the end then: \(heldThen)")
            // The rest follows once the end is let through.
            #expect(proxy.waitFor(timeout: .seconds(60)) { $0.event == "response" && $0.body.contains("[DONE]") } != nil)
        }
        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
    }

    /// The content of a streamed response's body (its `data:` events' deltas, joined).
    static func streamedText(_ body: String) -> String {
        let events = SSEEvents()
        events.feed(Array(body.utf8), at: .now)
        return events.events.compactMap(\.data).compactMap(OpenAIRealServerTests.json).compactMap(OpenAIRealServerTests.content).joined()
    }

    /// The `messages` of a chat completion request.
    static func messages(_ body: String) -> [(role: String, content: String)] {
        let list = OpenAIRealServerTests.json(body)?["messages"] as? [[String: Any]] ?? []
        return list.map { ($0["role"] as? String ?? "", $0["content"] as? String ?? "") }
    }
}
