import GatewayCore
import GatewayTestSupport
import JSON
import StateStore
import Synchronization
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
        defer { agent.retire() }
        let parts = Mutex<[String]>([])
        // The first part's delivery is where `/stop` lands: the turn is cancelled right then.
        let task = Task {
            try await agent.run(turn("x")) { part in
                parts.withLock { $0.append(part) }
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        let result = await task.result
        #expect(parts.withLock { $0 } == ["one"], "the chat was told the turn stopped: nothing may follow")
        #expect(throws: CancellationError.self) { try result.get() }
    }

    @Test func aByteOrderMarkDoesNotCostTheFirstEvent() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.rawEvents("\u{FEFF}" + Self.delta("Hi") + Self.finish))
        let agent = makeAgent([server])
        defer { agent.retire() }
        let chat = ChatRecorder()
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["Hi"])
    }

    @Test func aNullErrorFieldIsNoError() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.script(.rawEvents("data: {\"error\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n" + Self.finish))
        let agent = makeAgent([server], configure: { $0.retries = 0 })
        defer { agent.retire() }
        let chat = ChatRecorder()
        _ = try await agent.run(turn("x"), reply: chat.reply)
        #expect(chat.texts == ["Hi"])
    }

    @Test func usageOfAWholeCompletionIsClampedLikeAStreamedOne() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let body = "{\"choices\":[{\"message\":{\"content\":\"ok\"}}],\"usage\":{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":-5}}"
        server.script(.raw(Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)))
        let agent = makeAgent([server])
        defer { agent.retire() }
        let usage = try await agent.run(turn("x"), reply: ChatRecorder().reply)
        #expect(usage == AgentUsage(tokensIn: 1 << 40, tokensOut: 0))
        let huge = AgentUsage(tokensIn: .max, tokensOut: .max)
        #expect(huge + huge == huge, "a session's sum saturates, it does not wrap negative")
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
        defer { agent.retire() }
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
        defer { agent.retire() }
        let message = try #require(await failure(of: agent, "hi"))
        #expect(message.contains("answered with text/html; charset=utf-8, not an event stream"), "\(message)")
    }
}
