import GatewayCore
import JSON

/// The wire format of `POST /chat/completions` (OpenAI's, which vLLM, llama.cpp, Ollama and
/// OpenRouter speak): the request body and the streamed chunks.
package enum ChatCompletion {
    /// The SSE data that ends a stream.
    package static let done = "[DONE]"
    /// The `finish_reason` of an answer cut at `max_tokens`.
    package static let lengthFinish = "length"

    /// The request body: system prompt, then the earlier pairs, then this turn's text.
    package static func requestBody(model: String, settings: OpenAISettings, earlier: [HistoryTurn], text: String) -> [UInt8] {
        var messages: [JSONValue] = []
        if let prompt = settings.systemPrompt, !prompt.isEmpty {
            messages.append(["role": "system", "content": .string(prompt)])
        }
        for turn in fitting(earlier, maxBytes: maxHistoryBytes) {
            messages.append(["role": "user", "content": .string(turn.user)])
            messages.append(["role": "assistant", "content": .string(historyAnswer(turn))])
        }
        messages.append(["role": "user", "content": .string(text)])
        var body: [String: JSONValue] = [
            "model": .string(model),
            "messages": .array(messages),
            "stream": true,
            "stream_options": ["include_usage": true],
        ]
        if let maxTokens = settings.maxTokens { body["max_tokens"] = .int(Int64(maxTokens)) }
        if let temperature = settings.temperature { body["temperature"] = .double(temperature) }
        return JSONValue.object(body).serialized()
    }

    /// History sent with a turn, at most: `history_turns` bounds the pairs, this their size, so
    /// that long answers (up to `OpenAIAgent.maxAnswerBytes` each) do not make every request of
    /// a session megabytes long (16 sessions streaming 200 KB answers with 20 pairs grew the
    /// daemon past 230 MiB in a minute; the server would refuse such a context anyway).
    package static let maxHistoryBytes = 256 << 10

    /// The newest of `earlier` whose text fits in `maxBytes` (the oldest are left out first).
    package static func fitting(_ earlier: [HistoryTurn], maxBytes: Int) -> ArraySlice<HistoryTurn> {
        var total = 0
        var start = earlier.endIndex
        while start > earlier.startIndex {
            let turn = earlier[start - 1]
            total += turn.user.utf8.count + turn.answer.utf8.count
            if total > maxBytes { break }
            start -= 1
        }
        return earlier[start...]
    }

    /// What the model is told it answered: the answer, marked when it was cut short (so it does
    /// not take a fragment for its own complete reply); the mark alone when there was no answer,
    /// so that user and assistant still alternate (a turn that failed before its first word must
    /// not send two user messages in a row: chat templates such as Mistral's refuse that, and
    /// the session would fail on every later turn until `/new`).
    package static func historyAnswer(_ turn: HistoryTurn) -> String {
        switch turn.outcome {
        case .complete: return turn.answer
        case .interrupted, .open, .failed:
            return turn.answer.isEmpty ? interruptedMark : turn.answer + " " + interruptedMark
        }
    }

    package static let interruptedMark = "[interrupted]"

    /// One streamed chunk, as far as the gateway cares.
    package struct Chunk: Equatable {
        package var content: String = ""
        /// `stop`, `length`, ... on the choice's last chunk.
        package var finishReason: String?
        package var usage: AgentUsage?
        /// `{"error": {...}}` sent inside the stream (vLLM and llama.cpp do this mid-stream).
        package var error: String?
    }

    package struct MalformedChunk: Error, Equatable {
        package let reason: String
    }

    package static func parseChunk(_ data: String) throws(MalformedChunk) -> Chunk {
        let value: JSONValue
        do {
            value = try JSONValue.parse(data.utf8)
        } catch {
            throw MalformedChunk(reason: "an event that is not JSON (\(error))")
        }
        guard let object = value.object else { throw MalformedChunk(reason: "an event that is not a JSON object") }
        var chunk = Chunk()
        // `"error": null` (or false) is no error: a server may write the field in every chunk.
        if let error = object["error"], error != .null, error != false {
            chunk.error = error.object?["message"]?.string ?? error.string ?? "an error without a message"
            return chunk
        }
        if let choices = object["choices"]?.array, let first = choices.first?.object {
            if let content = first["delta"]?.object?["content"]?.string { chunk.content = content }
            chunk.finishReason = first["finish_reason"]?.string
        } else if object["choices"] != nil, object["choices"]?.array == nil {
            throw MalformedChunk(reason: "choices is not a list")
        }
        if let usage = object["usage"]?.object {
            chunk.usage = usageCounts(usage)
        }
        return chunk
    }

    /// `usage` of a chunk or a whole completion.
    package static func usageCounts(_ usage: [String: JSONValue]?) -> AgentUsage {
        AgentUsage(tokensIn: clamp(usage?["prompt_tokens"]?.int), tokensOut: clamp(usage?["completion_tokens"]?.int))
    }

    /// A server's count, kept within what the gateway can add up (never negative, never a trap).
    private static func clamp(_ value: Int64?) -> Int {
        guard let value, value > 0 else { return 0 }
        return Int(min(value, 1 << 40))
    }

    /// The message of an error body (`{"error": {"message": ...}}`), as the server wrote it (the
    /// endpoint cuts it to a line and takes its key out: `OpenAIEndpoint.serverText`); nil when
    /// the body says nothing usable.
    package static func errorMessage(_ body: [UInt8]) -> String? {
        guard let value = try? JSONValue.parse(body) else { return nil }
        return value.object?["error"]?.object?["message"]?.string ?? value.object?["error"]?.string
            ?? value.object?["message"]?.string
    }

    /// Single line, at most 300 Unicode scalars: server text goes into logs and chat replies.
    /// Counted in scalars, not characters: one character holds any number of combining marks,
    /// so a cut at 300 characters let a server's whole body through.
    package static func oneLine(_ text: String) -> String {
        var line = String.UnicodeScalarView()
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == 300 { return String(line) + "…" }
            line.append(scalar.value < 0x20 || scalar.value == 0x7f ? " " : scalar)
        }
        return String(line)
    }
}
