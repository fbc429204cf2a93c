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

    @Test("a streamed chat completion: data events until [DONE], content deltas, usage in a last chunk of its own")
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
        #expect(events.leftover.isEmpty, "bytes after the last event: \(events.leftover.debugDescription)")

        let data = events.events.compactMap(\.data)
        #expect(data.last == "[DONE]", "\(data.suffix(2))")
        let chunks = data.dropLast().compactMap(Self.json)
        #expect(chunks.count == data.count - 1, "every event before [DONE] is a JSON object")
        let text = chunks.compactMap(Self.content).joined()
        #expect(!text.isEmpty)
        #expect(text.contains("\n"), "the answer runs over lines: \(text.debugDescription)")
        #expect(chunks.allSatisfy { ($0["model"] as? String) == LlamaServer.modelAlias }, "the alias is the model's name")
        let usage = chunks.last?["usage"] as? [String: Any]
        #expect((usage?["prompt_tokens"] as? Int ?? 0) > 0, "usage: \(String(describing: usage))")
        #expect((usage?["completion_tokens"] as? Int ?? 0) > 0)
        #expect(((chunks.last?["choices"] as? [Any]) ?? [1]).isEmpty, "usage comes in a chunk with no choices")
        let finish = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String) }
        #expect(finish == ["stop"] || finish == ["length"], "one finish_reason: \(finish)")
        #expect(firstContent != nil)

        let raw = events.events.map(\.raw.debugDescription)
        print("""
            llama.cpp SSE: \(events.events.count) events, separators \(events.separators.sorted()), \
            comments \(events.events.filter(\.isComment).count), Transfer-Encoding \(response.header("Transfer-Encoding") ?? "none")
            first content delta after \(firstContent.map { $0 - start } ?? .zero), end after \(end - start)
            first 3 events: \(raw.prefix(3).joined(separator: "\n  "))
            last 3 events: \(raw.suffix(3).joined(separator: "\n  "))
            answer: \(text.debugDescription)
            """)
    }

    @Test("a request for another model is answered as for the served one; an oversized prompt is refused with 400")
    func errors() throws {
        let server = try LlamaServer()
        defer { server.stop() }
        let wrongModel = try HTTPExchange.request(
            port: server.port, method: "POST", path: "/v1/chat/completions",
            body: LlamaServer.chatRequest([("user", "Say hi.")], maxTokens: 8, model: "no-such-model", stream: false),
            timeout: .seconds(120))
        print("llama.cpp, wrong model: \(wrongModel.head)\(wrongModel.bodyText)")
        let words = String(repeating: "hello ", count: LlamaServer.contextTokens * 2)
        let oversized = try HTTPExchange.request(
            port: server.port, method: "POST", path: "/v1/chat/completions",
            body: LlamaServer.chatRequest([("user", words)], maxTokens: 8),
            timeout: .seconds(120))
        print("llama.cpp, oversized prompt: \(oversized.head)\(oversized.bodyText)")
        #expect(wrongModel.status == 200)
        #expect(oversized.status == 400)
    }

    static func json(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// `choices[0].delta.content` of a streamed chunk.
    static func content(of chunk: [String: Any]) -> String? {
        ((chunk["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
    }
}
