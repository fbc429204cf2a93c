/// `agent.openai`: an OpenAI-compatible chat completions server (vLLM, llama.cpp, Ollama,
/// OpenRouter, hosted APIs) and the endpoints that stand in when it fails.
package struct OpenAISettings: Sendable, Equatable {
    package static let defaultHistoryTurns = 20
    package static let defaultMaxTokens = 512
    package static let defaultRequestTimeout: Duration = .seconds(120)
    package static let defaultRetries = 2
    /// `$CREDENTIALS_DIRECTORY/<this>`: the primary's key when `api_key_file` is not set (the
    /// shipped unit's commented `LoadCredential=`).
    package static let credentialName = "openai_api_key"

    /// One server and model. The primary is `agent.openai` itself; fallbacks are tried in order.
    package struct Endpoint: Sendable, Equatable {
        /// Without a trailing slash; requests go to `baseURL + "/chat/completions"`.
        package var baseURL: String
        package var model: String
        /// Sent as `Authorization: Bearer`; nil sends no Authorization (a local server).
        package var apiKey: Secret?

        package init(baseURL: String, model: String, apiKey: Secret? = nil) {
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
        }
    }

    package var primary: Endpoint
    package var fallbacks: [Endpoint] = []
    package var systemPrompt: String?
    /// Earlier user+assistant pairs sent with each turn (0: none).
    package var historyTurns = Self.defaultHistoryTurns
    /// Bounds what one turn can cost; nil leaves it to the server.
    package var maxTokens: Int? = Self.defaultMaxTokens
    /// nil leaves it to the server.
    package var temperature: Double?
    /// An attempt fails when no byte arrived for this long (connecting, waiting for the first
    /// byte, or between two events).
    package var requestTimeout = Self.defaultRequestTimeout
    /// Attempts after the first, per endpoint, before the next endpoint is tried.
    package var retries = Self.defaultRetries

    package init(primary: Endpoint) {
        self.primary = primary
    }

    /// The primary first, then the fallbacks in order.
    package var endpoints: [Endpoint] { [primary] + fallbacks }
}

/// Bytes that must never reach a log, an error message or `GetStatus`: printing one shows only
/// that it is there.
package struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    package let bytes: [UInt8]

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// What is shown in its place.
    package static let placeholder = "<secret>"

    package var description: String { Self.placeholder }
    package var debugDescription: String { Self.placeholder }
    /// For the one place that sends it (the Authorization header).
    package var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension Secret {
    /// Why a secret file cannot be used, said as "cannot read PATH: ..." or "PATH is empty".
    package struct FileError: Error, Sendable, CustomStringConvertible {
        package let description: String
    }

    /// A secret kept in a file of its own, never in the config text: at most 4 KiB, trailing
    /// newlines dropped, not empty, a regular file (see `FileBytes.read`).
    package static func read(file path: String) throws(FileError) -> Secret {
        var secret: [UInt8]
        do {
            secret = try FileBytes.read(path, limit: 4096, regularFileOnly: true)
        } catch {
            throw FileError(description: "cannot read \(path): \(error)")
        }
        while let last = secret.last, last == 0x0a || last == 0x0d { secret.removeLast() }
        guard !secret.isEmpty else { throw FileError(description: "\(path) is empty") }
        return Secret(secret)
    }
}
