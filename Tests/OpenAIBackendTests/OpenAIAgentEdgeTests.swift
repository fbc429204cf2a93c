import GatewayCore
import GatewayTestSupport
import JSON
import StateStore
import NIOConcurrencyHelpers
import Testing
@testable import OpenAIBackend

/// Edges found by the hostile review of the backend (issue 17): each test failed before its fix.
@Suite(.timeLimit(.minutes(2))) struct OpenAIAgentEdgeTests {
    static func delta(_ text: String) -> String {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\(text)\"},\"finish_reason\":null}]}\n\n"
    }
    static let finish = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"

    @Test func noPartFollowsTheCancelEvenFromEventsAlreadyRead() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        // Three lines in one write: one read hands them all to the parser at once.
        server.script(.rawEvents(Self.delta("one\\n") + Self.delta("two\\n") + Self.delta("three") + Self.finish))
        let agent = makeAgent([server])
        let parts = NIOLockedValueBox<[String]>([])
        // The first part's delivery is where `/stop` lands: the turn is cancelled right then.
        let task = Task {
            try await agent.run(turn("x")) { part in
                parts.withLockedValue { $0.append(part) }
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        let result = await task.result
        #expect(parts.withLockedValue { $0 } == ["one"], "the chat was told the turn stopped: nothing may follow")
        #expect(throws: CancellationError.self) { try result.get() }
    }

    @Test func aKeyTheServerEchoesIsInNoMessageStatusOrLog() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.setDefault(.status(401, message: "Incorrect API key provided: sk-test-secret. Find yours at example.net"))
        let logs = LogRecorder()
        let agent = makeAgent([server], logger: logs.logger())
        let message = try #require(await failure(of: agent, "hi"))
        #expect(message.contains("Incorrect API key provided: <secret>."), "\(message)")
        #expect(!message.contains("sk-test-secret"))
        #expect(!"\(agent.endpointStatus())".contains("sk-test-secret"))
        #expect(!logs.all.contains { $0.message.contains("sk-test-secret") || $0.metadata.values.contains { $0.contains("sk-test-secret") } })
    }

    @Test func aKeyEchoedMidStreamIsTakenOutToo() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.setDefault(.rawEvents("data: {\"error\":{\"message\":\"key sk-test-secret over quota\"}}\n\n"))
        let agent = makeAgent([server], configure: { $0.retries = 0 })
        let message = try #require(await failure(of: agent, "hi"))
        #expect(message.contains("key <secret> over quota") && !message.contains("sk-test-secret"), "\(message)")
    }

    @Test func aByteOrderMarkDoesNotCostTheFirstEvent() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.rawEvents("\u{FEFF}" + Self.delta("Hi") + Self.finish))
        let agent = makeAgent([server])
        let chat = ChatRecorder()
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["Hi"])
    }

    @Test func aNullErrorFieldIsNoError() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.rawEvents("data: {\"error\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n" + Self.finish))
        let agent = makeAgent([server], configure: { $0.retries = 0 })
        let chat = ChatRecorder()
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["Hi"])
    }

    /// A 429 that asks for an hour (or gives a date) is not waited out 30 s per retry: the
    /// fallback answers at once.
    @Test(arguments: ["3600", "Wed, 21 Oct 2037 07:28:00 GMT"])
    func aRetryAfterPastTheCapMovesOnToTheFallbackAtOnce(_ retryAfter: String) async throws {
        let primary = try FakeOpenAIServer()
        let fallback = try FakeOpenAIServer()
        defer { primary.stop(); fallback.stop() }
        primary.setDefault(.status(429, headers: [("Retry-After", retryAfter)]))
        fallback.setDefault(.stream(["from the fallback"]))
        let agent = makeAgent([primary, fallback], configure: { $0.retries = 2 })
        let chat = ChatRecorder()
        let started = ContinuousClock.now
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["from the fallback"])
        #expect(primary.requests.count == 1, "no retry of a server that asked for more than the cap")
        // Waiting it out would be the cap (30 s) per retry, two retries; a loaded machine took 17 s.
        #expect(ContinuousClock.now - started < .seconds(40))
    }

    @Test func aNegativeRetryAfterIsNoAdvice() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.status(429, headers: [("Retry-After", "-1")]), .stream(["ok"]))
        let agent = makeAgent([server], configure: { $0.retries = 1 })
        let chat = ChatRecorder()
        let started = ContinuousClock.now
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["ok"])
        // No advice means the usual backoff, not the 30 s cap: read from the parser, not from a
        // wall clock (a loaded machine took 18 s for what takes milliseconds alone).
        #expect(OpenAIEndpoint.retryAfter("-1") == nil)
        #expect(OpenAIEndpoint.retryAfter(" 2 ") == .seconds(2))
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func usageOfAWholeCompletionIsClampedLikeAStreamedOne() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let body = "{\"choices\":[{\"message\":{\"content\":\"ok\"}}],\"usage\":{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":-5}}"
        server.script(.raw(Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)))
        let agent = makeAgent([server])
        let usage = try await agent.run(turn("x"), reply: ChatRecorder().reply)
        #expect(usage == AgentUsage(tokensIn: 1 << 40, tokensOut: 0))
        let huge = AgentUsage(tokensIn: .max, tokensOut: .max)
        #expect(huge + huge == huge, "a session's sum saturates, it does not wrap negative")
    }

    /// One user's prompt over the context, sent again and again, must not open the breaker for
    /// every session: the server answered, it is up.
    @Test func requestsRefusedAsWrongDoNotOpenTheBreaker() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.setDefault(.status(400, message: "This model's maximum context length is 8192 tokens"))
        let agent = makeAgent([server])
        for _ in 0..<6 {
            let message = try #require(await failure(of: agent, "a very long prompt"))
            #expect(message.contains("maximum context length"), "\(message)")
        }
        #expect(server.requests.count == 6, "every turn reached the server")
        let status = try #require(agent.endpointStatus().first)
        #expect(status.breaker == .closed && status.lastError?.contains("HTTP 400") == true)
    }

    /// The history keeps what the chat was told: an interrupted answer is its parts, not text
    /// that streamed in after the last one; a turn without an answer still gets an assistant
    /// message, so a strict chat template (user and assistant alternating) does not refuse
    /// every later turn of the session.
    @Test func historyKeepsWhatWasSaidAndRolesAlternate() async throws {
        let store = try #require(StateStore.open(directory: makeTemporaryDirectory()).store)
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.hold(["Said line\nunsaid tail"]), .status(500), .stream(["ok"]))
        let agent = makeAgent([server], history: store, configure: { $0.retries = 0 })
        let said = AsyncStream<Void>.makeStream()
        let chat = ChatRecorder(onFirst: { said.continuation.yield() })
        let interrupted = Task { try await agent.run(turn("story"), reply: chat.reply) }
        var firstPart = said.stream.makeAsyncIterator()
        await firstPart.next()
        interrupted.cancel()
        _ = try? await interrupted.value
        #expect(await failure(of: agent, "again") != nil)
        _ = try await agent.run(turn("third"), reply: chat.reply)
        let messages = try JSONValue.parse(server.requests[2].body).object?["messages"]?.array ?? []
        let pairs = messages.map { "\($0.object?["role"]?.string ?? ""): \($0.object?["content"]?.string ?? "")" }
        #expect(pairs == ["system: You are a test.", "user: story", "assistant: Said line [interrupted]",
                          "user: again", "assistant: [interrupted]", "user: third"])
    }

    @Test func aWebPageWhereTheAPIShouldBeIsSaidSo() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let page = "<html><body>Please log in</body></html>"
        server.setDefault(.raw(Array("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(page.utf8.count)\r\n\r\n\(page)".utf8)))
        let agent = makeAgent([server], configure: { $0.retries = 0 })
        let message = try #require(await failure(of: agent, "hi"))
        #expect(message.contains("answered with text/html; charset=utf-8, not an event stream"), "\(message)")
    }

    /// A key that cannot go into a header (the config refuses it; an agent built otherwise may
    /// have one): the HTTP library's error quotes the header it refused, and that is no place for it.
    @Test func aKeyTheHTTPLibraryRefusesIsNotQuotedBack() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let logs = LogRecorder()
        let agent = makeAgent([server], key: "sk-test-secret\r\nX-Injected: yes", configure: { $0.retries = 0 }, logger: logs.logger())
        let message = try #require(await failure(of: agent, "hi"))
        #expect(!message.contains("sk-test-secret") && !"\(agent.endpointStatus())".contains("sk-test-secret"), "\(message)")
        #expect(!logs.all.contains { $0.message.contains("sk-test-secret") })
        #expect(server.requests.isEmpty, "nothing was sent with a split header")
    }

    @Test func aRedirectSaysWhereToAndIsNotFollowed() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.setDefault(.raw(Array("HTTP/1.1 301 Moved\r\nLocation: https://api.example.net/v1/chat/completions\r\nContent-Length: 0\r\n\r\n".utf8)))
        let agent = makeAgent([server])
        let message = try #require(await failure(of: agent, "hi"))
        #expect(message.contains("redirects (HTTP 301, to https://api.example.net/v1/chat/completions)") && message.contains("set base_url"),
                "\(message)")
        #expect(server.requests.count == 1)
    }

    /// The primary's breaker is open and the fallback fails: the reason is the fallback's, and
    /// it does not claim that fallbacks failed "too" (the primary was never asked).
    @Test func aFailureBehindAnOpenBreakerSaysWhatWasSkipped() async throws {
        let primary = try FakeOpenAIServer()
        let fallback = try FakeOpenAIServer()
        defer { primary.stop(); fallback.stop() }
        primary.setDefault(.status(503, message: "primary down"))
        fallback.script(.stream(["fine"]), .status(500, message: "fallback down"))
        var tuning = OpenAIAgent.Tuning()
        tuning.backoffBase = .milliseconds(1)
        tuning.backoffMax = .milliseconds(2)
        tuning.breakerThreshold = 1
        tuning.breakerCooldown = .seconds(600)
        let agent = makeAgent([primary, fallback], configure: { $0.retries = 0 }, tuning: tuning)
        _ = try await agent.run(turn("one"), reply: ChatRecorder().reply)
        let message = try #require(await failure(of: agent, "two"))
        #expect(message.hasPrefix("the agent backend failed (HTTP 500: fallback down)"), "\(message)")
        #expect(message.contains("1 skipped: breaker open") && !message.contains("failed too"), "\(message)")
        #expect(primary.requests.count == 1)
    }

    /// The store loads only the newest earlier turns that fit in the byte bound: a session of
    /// long answers does not read megabytes per turn only to leave them out of the request.
    @Test func theStoreLoadsOnlyTheHistoryThatFits() async throws {
        let store = try #require(StateStore.open(directory: makeTemporaryDirectory()).store)
        for (index, size) in [300, 100, 50].enumerated() {
            let start = try await store.beginTurn(session: "s", userText: "q\(index)", earlierPairs: 5)
            store.finishTurn(turn: start.turn, session: "s", answer: String(repeating: "é", count: size), outcome: .complete, usage: .none)
        }
        // "é" is two bytes: 2 + 100 and 2 + 200 fit in 310; the 600-byte answer does not.
        let next = try await store.beginTurn(session: "s", userText: "now", earlierPairs: 5, earlierBytes: 310)
        #expect(next.earlier.map(\.user) == ["q1", "q2"])
        let none = try await store.beginTurn(session: "s", userText: "later", earlierPairs: 5, earlierBytes: 2)
        #expect(none.earlier.isEmpty, "the newest (\"now\", 3 bytes) does not fit: nothing older is sent out of order")
    }
}
