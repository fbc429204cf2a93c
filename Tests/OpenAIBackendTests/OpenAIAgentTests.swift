import GatewayCore
import GatewayTestSupport
import JSON
import OpenAIProtocol
import Logging
import NIOPosix
import StateStore
import NIOConcurrencyHelpers
import Testing
@testable import OpenAIBackend
#if canImport(Glibc)
import Glibc
#endif

/// What the chat was sent, with when each part arrived.
final class ChatRecorder: Sendable {
    private let parts = NIOLockedValueBox<[String]>([])
    private let onFirst: @Sendable () -> Void
    init(onFirst: @escaping @Sendable () -> Void = {}) { self.onFirst = onFirst }
    var texts: [String] { parts.withLockedValue { $0 } }
    var reply: @Sendable (String) async -> Void {
        { text in
            let first = self.parts.withLockedValue { parts in
                parts.append(text)
                return parts.count == 1
            }
            if first { self.onFirst() }
        }
    }
}

func makeAgent(_ endpoints: [FakeOpenAIServer], key: String? = "sk-test-secret", history: (any ConversationHistory)? = nil,
               configure: (inout OpenAISettings) -> Void = { _ in }, tuning: OpenAIAgent.Tuning? = nil,
               logger: Logger = Logger(label: "test"), metrics: GatewayMetrics? = nil) -> OpenAIAgent {
    let list = endpoints.enumerated().map { index, server in
        OpenAISettings.Endpoint(baseURL: server.baseURL, model: "model-\(index)", apiKey: key.map { Secret(Array($0.utf8)) })
    }
    var settings = OpenAISettings(primary: list[0])
    settings.fallbacks = Array(list.dropFirst())
    settings.systemPrompt = "You are a test."
    // Generous: a loaded CI machine can starve a test process for seconds; the stall tests set their own.
    settings.requestTimeout = .seconds(30)
    configure(&settings)
    var fast = OpenAIAgent.Tuning()
    fast.backoffBase = .milliseconds(10)
    fast.backoffMax = .milliseconds(50)
    return OpenAIAgent(settings: settings, history: history, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                       logger: logger, environment: [:], tuning: tuning ?? fast, metrics: metrics)
}

func turn(_ text: String, session: String = "local:test:alice") -> AgentTurn {
    AgentTurn(session: session, platform: "local", chat: "test", user: "alice", text: text)
}

/// The agent's failure message, or nil when the turn succeeded.
func failure(of agent: OpenAIAgent, _ text: String, _ chat: ChatRecorder = ChatRecorder(),
             session: String = "local:test:alice") async -> String? {
    do {
        _ = try await agent.run(turn(text, session: session), reply: chat.reply)
        return nil
    } catch {
        return (error as? AgentError)?.message ?? "\(error)"
    }
}

@Suite(.timeLimit(.minutes(2))) struct OpenAIAgentTests {
    @Test func aStreamedAnswerReachesTheChatLineByLineWithUsage() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let gate = FakeOpenAIServer.Gate()
        server.script(.gated(before: ["Fir", "st line\nSecond"], gate: gate, after: [" line\n", "tail"]))
        let agent = makeAgent([server])
        // The gate opens only once the first line reached the chat: the turn cannot end before.
        let chat = ChatRecorder(onFirst: { gate.open() })
        let usage = try await agent.run(turn("hello"), reply: chat.reply)
        #expect(chat.texts == ["First line", "Second line", "tail"])
        #expect(usage == AgentUsage(tokensIn: 21, tokensOut: 9))

        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer sk-test-secret")
        let body = try JSONValue.parse(request.body).object ?? [:]
        #expect(body["stream"] == true && body["model"] == "model-0")
        #expect(body["stream_options"]?.object?["include_usage"] == true)
        #expect(body["max_tokens"] == .int(512))
        let messages = body["messages"]?.array ?? []
        #expect(messages.map { $0.object?["role"]?.string ?? "" } == ["system", "user"])
        #expect(messages.last?.object?["content"] == "hello")
    }

    @Test(arguments: [false, true]) func crlfFramingAndKeepAliveComments(_ crlf: Bool) async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.stream(["a\n", "b"], crlf: crlf, comments: true))
        let agent = makeAgent([server])
        let chat = ChatRecorder()
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["a", "b"])
    }

    @Test func aRefusedKeyIsToldClearlyAndNotRetried() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.setDefault(.status(401, message: "Incorrect API key provided: sk-test-secret"))
        let logs = LogRecorder()
        let metrics = GatewayMetrics()
        let agent = makeAgent([server], logger: logs.logger(), metrics: metrics)
        let message = try #require(await failure(of: agent, "hi"))
        #expect(message.hasPrefix("the agent backend refused the API key (HTTP 401"))
        #expect(server.requests.count == 1, "a wrong key does not get better by retrying")
        #expect(logs.messages(event: "agent_error").contains { $0.contains("refused the API key") }, "an error record")
        #expect(metrics.agentErrorCount(kind: "auth") == 1, "gatewayd_agent_errors_total{kind=\"auth\"}")
        let status = try #require(agent.endpointStatus().first)
        #expect(status.lastError?.contains("HTTP 401") == true && status.consecutiveFailures == 1)
        #expect(!"\(agent.endpointStatus())".contains("sk-test-secret") || status.lastError?.contains("Incorrect API key") == true)
    }

    @Test func rateLimitingWaitsRetryAfterThenSucceeds() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.status(429, headers: [("Retry-After", "1")]), .stream(["ok"]))
        let agent = makeAgent([server])
        let chat = ChatRecorder()
        let started = ContinuousClock.now
        _ = try await agent.run(turn("hi"), reply: chat.reply)
        #expect(chat.texts == ["ok"])
        #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After honoured")
        #expect(server.requests.count == 2)
    }

    @Test func serverErrorsAreRetriedWithBackoffThenTheFallbackTakesOver() async throws {
        let primary = try FakeOpenAIServer()
        let fallback = try FakeOpenAIServer()
        defer { primary.stop(); fallback.stop() }
        primary.setDefault(.status(500, message: "boom"))
        fallback.script(.stream(["from the fallback"]))
        let agent = makeAgent([primary, fallback], configure: { $0.retries = 2 })
        let chat = ChatRecorder()
        _ = try await agent.run(turn("hi"), reply: chat.reply)
        #expect(chat.texts == ["from the fallback"])
        #expect(primary.requests.count == 3, "the first attempt and two retries")
        let body = try JSONValue.parse(try #require(fallback.requests.first).body)
        #expect(body.object?["model"] == "model-1")
        let statuses = agent.endpointStatus()
        #expect(statuses.map(\.consecutiveFailures) == [3, 0])
    }

    @Test func aStallMidStreamFailsAfterRequestTimeoutAndIsNotRetriedOnceTheChatHasParts() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.hold(["partial line\n", "more"]))
        let agent = makeAgent([server], configure: { $0.requestTimeout = .milliseconds(400) })
        let chat = ChatRecorder()
        let started = ContinuousClock.now
        let message = try #require(await failure(of: agent, "hi", chat))
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        #expect(message.contains("the answer was cut off") && message.contains("sent nothing for"))
        #expect(chat.texts == ["partial line", "more"], "what was generated reaches the chat, then the reason")
        #expect(server.requests.count == 1, "no retry once a part was sent: it would repeat it")
    }

    @Test func aSlowFirstByteWithinTheTimeoutIsFineAndAStallBeforeItIsRetried() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.delayed(.milliseconds(300), .stream(["slow"])), .hold([]), .stream(["after stall"]))
        // 300 ms against 3 s: the margin holds with the whole suite (and a Synapse) on two cores
        // (900 ms did not once: the slow answer was taken for a stall).
        let agent = makeAgent([server], configure: { $0.requestTimeout = .seconds(3) })
        let chat = ChatRecorder()
        _ = try await agent.run(turn("one"), reply: chat.reply)
        #expect(chat.texts == ["slow"])
        _ = try await agent.run(turn("two"), reply: chat.reply)
        #expect(chat.texts == ["slow", "after stall"])
        #expect(server.requests.count == 3)
    }

    @Test func aResetAndMalformedEventsAreRetried() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.reset([]), .rawEvents("data: {not json\n\n"), .rawEvents("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"),
                      .stream(["fine"]))
        let agent = makeAgent([server], configure: { $0.retries = 3 })
        let chat = ChatRecorder()
        _ = try await agent.run(turn("hi"), reply: chat.reply)
        // The third reply sent a part ("x") and then ended without finishing: that one ends the
        // turn... unless the part never made a full line; it did not (no newline), so nothing
        // was sent and the retry is safe.
        #expect(chat.texts == ["fine"])
        #expect(server.requests.count == 4)
    }

    @Test func theBreakerOpensAfterFiveFailuresThenAnswersAtOnceAndHalfOpens() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.setDefault(.status(503, message: "overloaded"))
        var tuning = OpenAIAgent.Tuning()
        tuning.backoffBase = .milliseconds(1)
        tuning.backoffMax = .milliseconds(2)
        tuning.breakerCooldown = .milliseconds(700)
        let agent = makeAgent([server], configure: { $0.retries = 0 }, tuning: tuning)
        for _ in 0..<5 { _ = await failure(of: agent, "x") }
        #expect(server.requests.count == 5)
        #expect(agent.endpointStatus().first?.breaker == .open)
        let started = ContinuousClock.now
        let message = try #require(await failure(of: agent, "x"))
        #expect(ContinuousClock.now - started < .milliseconds(200), "an open breaker answers at once")
        #expect(message.contains("unavailable after 5 failures in a row") && message.contains("overloaded"))
        #expect(server.requests.count == 5, "nothing sent while open")
        // After the cooldown, one trial: it succeeds and closes the breaker.
        try await Task.sleep(for: .milliseconds(750))
        #expect(agent.endpointStatus().first?.breaker == .halfOpen)
        server.setDefault(.stream(["back"]))
        let chat = ChatRecorder()
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["back"])
        #expect(agent.endpointStatus().first?.breaker == .closed)
    }

    @Test func anInterruptClosesTheConnectionAndSendsNoMoreParts() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.hold(["first part\n"]))
        let agent = makeAgent([server], configure: { $0.retries = 0 })
        let (firstPart, arrived) = AsyncStream.makeStream(of: Void.self)
        let chat = ChatRecorder(onFirst: { arrived.yield() })
        let task = Task { try await agent.run(turn("long"), reply: chat.reply) }
        // The first part, then the interrupt.
        for await _ in firstPart { break }
        #expect(chat.texts == ["first part"])
        task.cancel()
        var thrown: (any Error)?
        do { _ = try await task.value } catch { thrown = error }
        #expect(thrown is CancellationError, "\(String(describing: thrown))")
        #expect(await server.waitForClientCloses(1, timeout: .seconds(30)), "the server saw the connection closed")
        #expect(chat.texts == ["first part"])
    }

    @Test func historyIsKeptInTheStoreAndSentWithTheNextTurn() async throws {
        let directory = makeTemporaryDirectory()
        let store = try #require(StateStore.open(directory: directory).store)
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.stream(["Paris."]), .hold(["Half an ans"]), .stream(["Third."]))
        let agent = makeAgent([server], history: store, configure: { $0.historyTurns = 2 })
        let chat = ChatRecorder()
        _ = try await agent.run(turn("Capital of France?"), reply: chat.reply)
        // An interrupted turn: its partial answer is kept, marked.
        let interrupted = Task { try await agent.run(turn("Tell me a long story"), reply: chat.reply) }
        await server.waitForRequests(2)
        interrupted.cancel()
        _ = try? await interrupted.value
        _ = try await agent.run(turn("And Spain?"), reply: chat.reply)
        let third = try JSONValue.parse(server.requests[2].body).object?["messages"]?.array ?? []
        let pairs = third.map { "\($0.object?["role"]?.string ?? ""): \($0.object?["content"]?.string ?? "")" }
        #expect(pairs == ["system: You are a test.", "user: Capital of France?", "assistant: Paris.",
                          "user: Tell me a long story", "assistant: [interrupted]", "user: And Spain?"],
                "the partial answer was never sent as a part (no full line), so it is not claimed as said; roles still alternate")
        await store.flush()

        // Another session knows nothing of it; /reset (forgetSession) clears it.
        _ = try await agent.run(turn("Who am I?", session: "local:test:bob"), reply: chat.reply)
        let other = try JSONValue.parse(server.requests[3].body).object?["messages"]?.array ?? []
        #expect(other.count == 2)
        store.forgetSession("local:test:alice")
        _ = try await agent.run(turn("Fresh?"), reply: chat.reply)
        let fresh = try JSONValue.parse(server.requests[4].body).object?["messages"]?.array ?? []
        #expect(fresh.count == 2)
    }

    @Test func historySurvivesAReopenAndAnOpenTurnBecomesInterrupted() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            let start = try await store.beginTurn(session: "s", userText: "q1", earlierPairs: 5)
            store.finishTurn(turn: start.turn, session: "s", answer: "a1", outcome: .complete, usage: AgentUsage(tokensIn: 3, tokensOut: 4))
            let open = try await store.beginTurn(session: "s", userText: "q2", earlierPairs: 5)
            store.recordProgress(turn: open.turn, answer: "half")
            await store.flush()
            // The process dies here: no finishTurn for q2.
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let recovery = try await store.recover(policy: RecoveryPolicy())
        #expect(recovery.sessions.isEmpty, "no session row: markActive was not called in this test")
        let next = try await store.beginTurn(session: "s", userText: "q3", earlierPairs: 5)
        #expect(next.earlier == [HistoryTurn(user: "q1", answer: "a1", outcome: .complete),
                                 HistoryTurn(user: "q2", answer: "half", outcome: .interrupted)])
        #expect(ChatCompletion.historyAnswer(next.earlier[1]) == "half [interrupted]")
        // Bounded: only `pairs` earlier rows are kept.
        let bounded = try await store.beginTurn(session: "s", userText: "q4", earlierPairs: 1)
        #expect(bounded.earlier.map(\.user) == ["q3"])
        let again = try await store.beginTurn(session: "s", userText: "q5", earlierPairs: 5)
        #expect(again.earlier.map(\.user) == ["q3", "q4"])
    }

    @Test func aPromptOverTheContextIsTriedOnceWithoutTheHistoryAndNotHeldAgainstTheBreaker() async throws {
        let directory = makeTemporaryDirectory()
        let store = try #require(StateStore.open(directory: directory).store)
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        // llama.cpp's answer to a prompt over its context, streamed: 200, an event stream, no event.
        server.script(.stream(["First answer."]), .rawEvents(""), .stream(["Fresh start."]), .rawEvents(""))
        let agent = makeAgent([server], history: store, configure: { $0.retries = 0 })
        let chat = ChatRecorder()
        _ = try await agent.run(turn("one"), reply: chat.reply)
        _ = try await agent.run(turn("two"), reply: chat.reply)
        #expect(chat.texts == ["First answer.", "Fresh start."])
        let refused = try JSONValue.parse(server.requests[1].body).object?["messages"]?.array ?? []
        #expect(refused.count == 4, "system prompt, the first pair, the new message")
        let retried = try JSONValue.parse(server.requests[2].body).object?["messages"]?.array ?? []
        #expect(retried.count == 2, "system prompt and the new message only: \(retried)")
        // Without history to drop, the reason is told; the breaker stays closed.
        let message = try #require(await failure(of: agent, "three", chat, session: "local:test:nobody"))
        #expect(message.contains("without an answer"), "\(message)")
        #expect(agent.endpointStatus().first?.consecutiveFailures == 0)
    }

    @Test func anAnswerCutAtMaxTokensIsSaidSoAfterIt() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.rawEvents("""
            data: {"choices":[{"index":0,"delta":{"content":"A long answ"},"finish_reason":null}]}

            data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}

            data: [DONE]


            """), .stream(["Short."]))
        let agent = makeAgent([server])
        let chat = ChatRecorder()
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["A long answ", GatewayText.answerCutAtMaxTokens])
        _ = try await agent.run(turn("y"), reply: chat.reply)
        #expect(chat.texts.last == "Short.", "a finished answer gets no such note")
    }

    @Test func anAnswerThatNeverEndsIsCutAtItsBound() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let piece = String(repeating: "token ", count: 1000)
        server.script(.stream(Array(repeating: piece, count: 200)))
        let agent = makeAgent([server], configure: { $0.retries = 0 })
        let chat = ChatRecorder()
        let message = try #require(await failure(of: agent, "x", chat))
        #expect(message.contains("answer passed 1 MiB"), "\(message)")
        let sent = chat.texts.reduce(0) { $0 + $1.utf8.count }
        #expect(sent > 0 && sent <= OpenAIAgent.maxAnswerBytes, "parts went out while it streamed, and stopped at the bound")
        #expect(chat.texts.allSatisfy { $0.count <= 2_000 }, "no part longer than a chat line")
    }

    @Test func aServerThatIgnoresStreamStillAnswers() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.whole("all at once"))
        let agent = makeAgent([server], configure: { $0.retries = 0 })
        let chat = ChatRecorder()
        let usage = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["all at once"] && usage == AgentUsage(tokensIn: 2, tokensOut: 1))
        // A 200 with a JSON body but no choices: malformed, told clearly.
        server.script(.status(200, message: "x"))
        let message = try #require(await failure(of: agent, "x"))
        #expect(message.contains("JSON without a message"))
    }

    @Test func anUnreachableEndpointFailsFastWithItsAddress() async throws {
        // A port bound but not listening: connecting is refused (nothing else can take it meanwhile).
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        #expect(withIPv4Address(port: 0) { bind(holder, $0, $1) } == 0)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var settings = OpenAISettings(primary: .init(baseURL: "http://127.0.0.1:\(port)/v1", model: "m"))
        settings.retries = 1
        var tuning = OpenAIAgent.Tuning()
        tuning.backoffBase = .milliseconds(10)
        let agent = OpenAIAgent(settings: settings, history: nil, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                logger: Logger(label: "t"), environment: [:], tuning: tuning)
        let message = try #require(await failure(of: agent, "x"))
        // Refused at once, not waited out until the connect timeout ("timed out" then).
        #expect(message.contains("127.0.0.1:\(port)") && message.contains("connection refused"), "\(message)")
    }
}
