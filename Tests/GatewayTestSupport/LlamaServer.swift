import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenAI-compatible server for the agent tests: llama.cpp's, from PyPI's
/// `llama-cpp-python[server]`, serving SmolLM2-135M-Instruct on a loopback port, started as a child
/// and ended by its pid. `.ci/install-deps` builds it into a venv and unpacks the model, both in
/// `cacheDirectory`; without them the tests skip with `unavailableReason`.
///
/// Set up to be small, fast and repeatable: one thread, a context of 2,048 tokens, one fixed seed,
/// the model named `modelAlias`; requests ask for temperature 0. One thread, not one per core:
/// ggml's threads meet at a spinning barrier after each step, and on a loaded machine (the suite
/// runs in parallel) one of two descheduled stalls both. Measured here with the suite's builds
/// beside it, 64 tokens at most: 1 thread 0.17-0.46 s a completion, 2 threads 0.66-18 s.
public final class LlamaServer: @unchecked Sendable {
    /// Where `.ci/install-deps` puts the venv and the model (`GATEWAYD_TEST_CACHE` overrides it).
    public static let cacheDirectory = ProcessInfo.processInfo.environment["GATEWAYD_TEST_CACHE"] ?? "/var/cache/gatewayd-tests"
    /// The venv's interpreter, which has `llama_cpp.server`.
    public static let python = cacheDirectory + "/venv/bin/python3"
    /// The name the server answers to (`--model_alias`): what a client sends as `model`.
    public static let modelAlias = "smollm2"
    /// Tokens of context: a small one loads fast and holds a few turns of history.
    public static let contextTokens = 2048
    /// The longest wait for the server to answer `GET /v1/models` after its start (it loads the
    /// model first: about a second here, far more on a loaded machine).
    public static let readyTimeout: Duration = .seconds(120)

    /// The model file (the first `.gguf` in `cacheDirectory`), nil when there is none.
    public static let model: String? = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? []
        return names.filter { $0.hasSuffix(".gguf") }.sorted().first.map { cacheDirectory + "/" + $0 }
    }()

    /// Why the server cannot be started here (for `.enabled(if:)`), nil when it can.
    public static let unavailableReason: String? = {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return "llama-cpp-python is not installed in \(cacheDirectory)/venv (.ci/install-deps builds it)"
        }
        guard model != nil else { return "no SmolLM2 .gguf in \(cacheDirectory) (.ci/install-deps unpacks it)" }
        let probe = try? run([python, "-c", "import llama_cpp.server"])
        guard probe?.status == 0 else {
            return "the venv in \(cacheDirectory) cannot import llama_cpp.server: \(probe?.standardError.suffix(300) ?? "")"
        }
        return nil
    }()

    public static var isAvailable: Bool { unavailableReason == nil }

    public let port: Int
    /// The server's log (stdout and stderr), for a failure's message.
    public let logPath: String
    private let directory: String
    private var process: TestChild?

    /// `http://127.0.0.1:PORT/v1`, as `agent.openai.base_url` takes it.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Starts one from an async test: the start blocks up to `readyTimeout` (the model loads), on
    /// a thread of its own rather than one of the few that every async test shares.
    public static func started() async throws -> LlamaServer {
        try await onThread { try LlamaServer() }
    }

    /// Starts the server and returns once `GET /v1/models` answers 200 (bounded by `readyTimeout`).
    public init() throws {
        guard let model = Self.model, Self.unavailableReason == nil else {
            throw LlamaServerError(Self.unavailableReason ?? "no model")
        }
        directory = makeTemporaryDirectory("gatewayd-llama")
        logPath = directory + "/server.log"
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(log) }
        // The port is picked before the server binds it: another process may take it first. The
        // readiness probe then checks the model name, and a start that lost the race is tried again.
        var lastError = "not started"
        for _ in 0..<3 {
            let port = freeLoopbackPort()
            let process = try TestChild([
                Self.python, "-m", "llama_cpp.server",
                "--model", model, "--model_alias", Self.modelAlias,
                "--host", "127.0.0.1", "--port", String(port),
                "--n_ctx", String(Self.contextTokens), "--n_threads", "1", "--n_threads_batch", "1",
                "--n_batch", "512", "--seed", "1", "--verbose", "False",
            ], environment: environment(with: ["PYTHONUNBUFFERED": "1"]),
               standardOutput: .descriptor(log), standardError: .descriptor(log))
            switch Self.waitUntilReady(process: process, port: port) {
            case .success:
                self.port = port
                self.process = process
                return
            case .failure(let error):
                lastError = error.description
                kill(process.pid, SIGKILL)
                process.wait()
            }
        }
        let logged = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw LlamaServerError("llama.cpp's server did not start: \(lastError); its log ends: \(logged.suffix(1500))")
    }

    /// Polls `GET /v1/models` until it names `modelAlias` (the server has no readiness
    /// notification), while the process lives, up to `readyTimeout`.
    private static func waitUntilReady(process: TestChild, port: Int) -> Result<Void, LlamaServerError> {
        let deadline = ContinuousClock.now + readyTimeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { return .failure(LlamaServerError("the server exited (port \(port) taken?)")) }
            if let response = try? HTTPExchange.request(port: port, method: "GET", path: "/v1/models", timeout: .seconds(5)) {
                if response.status == 200 && response.bodyText.contains("\"\(modelAlias)\"") { return .success(()) }
                return .failure(LlamaServerError("port \(port) answered \(response.status): \(response.bodyText.prefix(200))"))
            }
            usleep(50_000)
        }
        return .failure(LlamaServerError("GET /v1/models did not answer within \(readyTimeout)"))
    }

    /// The body of a streamed chat completion (temperature 0, usage in the last chunk).
    public static func chatRequest(_ messages: [(role: String, content: String)], maxTokens: Int = 64,
                                   model: String = modelAlias, stream: Bool = true) -> String {
        let list = messages.map { #"{"role":\#(jsonString($0.role)),"content":\#(jsonString($0.content))}"# }
        return #"{"model":\#(jsonString(model)),"messages":[\#(list.joined(separator: ","))],"# +
            #""temperature":0,"max_tokens":\#(maxTokens),"stream":\#(stream)"# +
            (stream ? #","stream_options":{"include_usage":true}}"# : "}")
    }

    /// SIGTERM by pid, then SIGKILL if it has not ended within 10 s.
    public func stop() {
        guard let process else { return }
        kill(process.pid, SIGTERM)
        if !waitForExit(of: process.pid, timeout: .seconds(10)) { kill(process.pid, SIGKILL) }
        process.wait()
        self.process = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A string as a JSON string literal (quotes, backslashes and control characters escaped).
public func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

public struct LlamaServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
