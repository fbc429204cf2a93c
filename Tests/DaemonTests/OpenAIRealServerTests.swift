import Foundation
import GatewayTestSupport
import Testing

/// The real OpenAI-compatible server the agent backend is tested against (llama.cpp's, see
/// `LlamaServer`), spoken to directly: what it really sends, so that the gateway's client and its
/// fakes match reality rather than a reading of the spec.
@Suite("llama.cpp's OpenAI-compatible server, spoken to directly", .timeLimit(.minutes(5)), .serialized, .ownThread,
       .enabled(if: LlamaServer.isAvailable, Comment(rawValue: LlamaServer.unavailableReason ?? "")))
struct OpenAIRealServerTests {
    /// A prompt whose answer (temperature 0) runs over several lines.
    static let prompt = "List five fruits, one per line."

    @Test("a streamed chat completion: LF-framed data events, content deltas, one finish_reason, then [DONE]")
    func streamedCompletion() throws {
        let server = try LlamaServer()
        defer { server.stop() }
        let events = SSEEvents()
        let start = ContinuousClock.now
        var firstContent: ContinuousClock.Instant?
        let response = try HTTPExchange.request(
            port: server.port, method: "POST", path: "/v1/chat/completions",
            body: LlamaServer.chatRequest([("user", Self.prompt)], maxTokens: 64),
            headers: ["Accept: text/event-stream"], timeout: .seconds(120)
        ) { bytes, at in
            for event in events.feed(bytes, at: at) where firstContent == nil {
                if let chunk = event.data.flatMap(Self.json), Self.content(of: chunk)?.isEmpty == false { firstContent = at }
            }
        }
        let end = ContinuousClock.now
        #expect(response.status == 200, "\(response.head)\(response.bodyText)")
        #expect(response.header("Content-Type")?.hasPrefix("text/event-stream") == true, "\(response.head)")
        // sse-starlette's framing: LF line ends, a blank line after each event, and a comment
        // (": ping - <time>") every 15 s of a long stream.
        #expect(events.separators == ["LF LF"], "\(events.separators)")
        #expect(events.leftover.isEmpty, "bytes after the last event: \(events.leftover.debugDescription)")

        let data = events.events.compactMap(\.data)
        #expect(data.last == "[DONE]", "\(data.suffix(2))")
        let chunks = data.dropLast().compactMap(Self.json)
        #expect(chunks.count == data.count - 1, "every event before [DONE] is a JSON object")
        let text = chunks.compactMap(Self.content).joined()
        #expect(!text.isEmpty)
        #expect(text.contains("\n"), "the answer runs over lines: \(text.debugDescription)")
        #expect(chunks.allSatisfy { ($0["model"] as? String) == LlamaServer.modelAlias }, "the alias is the model's name")
        // llama-cpp-python 0.3.36 ignores stream_options: no chunk carries usage (a client must
        // do without it, or count on the non-streamed answer's).
        let usage = chunks.compactMap { $0["usage"] as? [String: Any] }
        let finish = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String) }
        #expect(finish == ["stop"] || finish == ["length"], "one finish_reason: \(finish)")
        #expect(firstContent != nil)

        let raw = events.events.map(\.raw.debugDescription)
        print("""
            llama.cpp SSE: \(events.events.count) events, separators \(events.separators.sorted()), \
            comments \(events.events.filter(\.isComment).count), usage chunks \(usage.count), Transfer-Encoding \(response.header("Transfer-Encoding") ?? "none")
            first content delta after \(firstContent.map { $0 - start } ?? .zero), end after \(end - start)
            first 3 events: \(raw.prefix(3).joined(separator: "\n  "))
            last 3 events: \(raw.suffix(3).joined(separator: "\n  "))
            answer: \(text.debugDescription)
            """)
    }

    /// What a client must be ready for: llama-cpp-python serves its one model whatever `model`
    /// says, and a prompt past the context is refused with 400 only when not streamed; streamed,
    /// it is a 200 event stream that ends at once with no event at all (no [DONE]), the error only
    /// in the server's log.
    @Test("another model's name is served by the loaded model; an oversized prompt: 400 unstreamed, an empty 200 stream streamed")
    func errors() throws {
        let server = try LlamaServer()
        defer { server.stop() }
        func post(_ body: String) throws -> HTTPExchange.Response {
            try HTTPExchange.request(port: server.port, method: "POST", path: "/v1/chat/completions", body: body, timeout: .seconds(120))
        }
        let wrongModel = try post(LlamaServer.chatRequest([("user", "Say hi.")], maxTokens: 8, model: "no-such-model", stream: false))
        let words = String(repeating: "hello ", count: LlamaServer.contextTokens * 2)
        let oversized = try post(LlamaServer.chatRequest([("user", words)], maxTokens: 8, stream: false))
        let oversizedStream = try post(LlamaServer.chatRequest([("user", words)], maxTokens: 8))
        print("""
            llama.cpp, wrong model: \(wrongModel.head)\(wrongModel.bodyText)
            llama.cpp, oversized prompt: \(oversized.head)\(oversized.bodyText)
            llama.cpp, oversized prompt streamed: \(oversizedStream.head)\(oversizedStream.wireBody.count) body bytes on the wire: \(String(decoding: oversizedStream.wireBody, as: UTF8.self).debugDescription)
            """)
        #expect(wrongModel.status == 200)
        #expect(Self.json(wrongModel.bodyText)?["model"] as? String == "no-such-model", "the name asked for is echoed")
        #expect(oversized.status == 400)
        let error = Self.json(oversized.bodyText)?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "context_length_exceeded", "\(oversized.bodyText)")
        #expect(oversizedStream.status == 200)
        #expect(oversizedStream.header("Content-Type")?.hasPrefix("text/event-stream") == true)
        #expect(oversizedStream.body.isEmpty, "no event, not even [DONE]: \(oversizedStream.bodyText.debugDescription)")
    }

    static func json(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// `choices[0].delta.content` of a streamed chunk.
    static func content(of chunk: [String: Any]) -> String? {
        ((chunk["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
    }
}
