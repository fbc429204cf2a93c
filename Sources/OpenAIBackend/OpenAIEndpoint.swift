import AsyncHTTPClient
import GatewayCore
import JSON
import NIOCore
import OpenAIProtocol
import NIOHTTP1
import NIOPosix
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// One server and model, with its own HTTP client (its proxy may differ from the others') and
/// circuit breaker. Shared by every turn that runs on the backend.
final class OpenAIEndpoint: Sendable {
    let settings: OpenAISettings.Endpoint
    let chatURL: String
    let client: HTTPClient
    /// `request_timeout`, for the message of a stall.
    let readTimeout: Duration
    private let state: NIOLockedValueBox<State>

    struct State {
        var breaker: CircuitBreaker
        var lastError: String?
        var lastErrorUsec: Int64?
    }

    init(_ settings: OpenAISettings.Endpoint, requestTimeout: Duration, proxy: ProxyEnvironment.Proxy?,
         breaker: CircuitBreaker, eventLoopGroup: any EventLoopGroup) {
        self.settings = settings
        self.chatURL = settings.baseURL + "/chat/completions"
        self.state = NIOLockedValueBox(State(breaker: breaker))
        self.readTimeout = requestTimeout
        var configuration = HTTPClient.Configuration()
        let idle = TimeAmount.nanoseconds(Int64(clamping: requestTimeout.components.seconds) * 1_000_000_000
                                          + requestTimeout.components.attoseconds / 1_000_000_000)
        // "No byte for request_timeout": the read timeout is idle time between reads, from the
        // request's end to the head and between every two pieces of the body.
        configuration.timeout = .init(connect: min(idle, OpenAIAgent.connectTimeout), read: idle)
        // A refused connection fails the attempt at once: the agent's own retries (with backoff,
        // then the fallbacks) decide what comes next, not a silent wait up to the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        if let proxy {
            configuration.proxy = .server(host: proxy.host, port: proxy.port,
                                          authorization: proxy.credentials.map { HTTPClient.Authorization.basic(credentials: $0) })
        }
        self.client = HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: configuration)
    }

    /// The backend is gone (replaced by a reload, its last turn over): its connections close.
    /// Not blocking: the future is left to complete on the client's event loop.
    deinit {
        _ = client.shutdown()
    }

    // MARK: Breaker

    func admit() -> CircuitBreaker.Admission {
        state.withLockedValue { $0.breaker.admit(now: .now) }
    }

    func succeeded() {
        state.withLockedValue { $0.breaker.succeeded() }
    }

    func failed(_ failure: OpenAIFailure) {
        let now = WallClock.microseconds()
        state.withLockedValue {
            // A request the server refused as wrong (a prompt over the context, HTTP 400) says the
            // server is up: one user's message sent five times must not open the breaker for all.
            if failure.requestFault { $0.breaker.succeeded() } else { $0.breaker.failed(now: .now) }
            $0.lastError = failure.message
            $0.lastErrorUsec = now
        }
    }

    func abandoned(_ admission: CircuitBreaker.Admission) {
        state.withLockedValue { $0.breaker.abandoned(admission) }
    }

    var status: AgentEndpointStatus {
        state.withLockedValue {
            AgentEndpointStatus(baseURL: settings.baseURL, model: settings.model, breaker: $0.breaker.status(now: .now),
                                consecutiveFailures: $0.breaker.consecutiveFailures, lastError: $0.lastError,
                                lastErrorUsec: $0.lastErrorUsec)
        }
    }

    // MARK: One attempt

    /// Sends the request and hands each piece of content to `onContent` as it arrives. Throws
    /// `OpenAIFailure`, or `CancellationError` when the turn was interrupted (the connection is
    /// closed then: no more tokens are generated for nobody).
    func stream(body: [UInt8], onContent: (String) async throws(OpenAIFailure) -> Void) async throws -> StreamedAnswer {
        var request = HTTPClientRequest(url: chatURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let key = settings.apiKey { request.headers.add(name: "Authorization", value: "Bearer " + key.text) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            // The turn's own timeout bounds it; this only keeps AHC's deadline out of the way.
            response = try await client.execute(request, deadline: .now() + .hours(24 * 30))
        } catch {
            throw classify(error)
        }
        guard response.status == .ok else { throw await failure(for: response) }
        let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
        if contentType.hasPrefix("application/json") { return try await wholeAnswer(response, onContent: onContent) }

        var parser = ServerSentEventParser()
        var usage: AgentUsage?
        var finishReason: String?
        var finished = false
        var events = 0
        do {
            reading: for try await buffer in response.body {
                let read: [ServerSentEvent]
                do {
                    read = try parser.feed(buffer.readableBytesView)
                } catch {
                    throw OpenAIFailure(kind: .malformed, message: "the agent backend sent an event over \(error.limit) bytes")
                }
                events += read.count
                for event in read {
                    // One read can hold many events: an interrupt stops at the next one, not the read's end.
                    try Task.checkCancellation()
                    if event.data == ChatCompletion.done {
                        finished = true
                        break reading
                    }
                    let chunk: ChatCompletion.Chunk
                    do {
                        chunk = try ChatCompletion.parseChunk(event.data)
                    } catch {
                        throw OpenAIFailure(kind: .malformed, message: "the agent backend sent a malformed stream: \(error.reason)")
                    }
                    if let message = chunk.error {
                        throw OpenAIFailure(kind: .server, message: "the agent backend failed mid-answer: \(serverText(message))")
                    }
                    if !chunk.content.isEmpty { try await onContent(chunk.content) }
                    if let reported = chunk.usage { usage = reported }
                    // The last choice chunk: a stream that ends after it without `[DONE]` still ended well.
                    if let reason = chunk.finishReason {
                        finished = true
                        finishReason = reason
                    }
                }
            }
        } catch let failure as OpenAIFailure {
            throw failure
        } catch {
            throw classify(error)
        }
        if Task.isCancelled { throw CancellationError() }
        guard finished else {
            // Not one event: a web page or a proxy's answer where the API should be; say what came.
            if events == 0 && !contentType.hasPrefix("text/event-stream") {
                let type = contentType.isEmpty ? "no content type" : ChatCompletion.oneLine(contentType)
                throw OpenAIFailure(kind: .malformed, message: "the agent backend at \(settings.baseURL) answered with \(type), not an event stream")
            }
            // An event stream without one event: how llama.cpp's server refuses a prompt over
            // its context once streaming (the reason is only in its own log). The request is at
            // fault, not the server: not retried as is, not held against the breaker.
            if events == 0 {
                var failure = OpenAIFailure(kind: .rejected,
                                            message: "the agent backend ended the stream without an answer (a prompt over the model's context?)")
                failure.requestFault = true
                throw failure
            }
            throw OpenAIFailure(kind: .malformed, message: "the agent backend's stream ended before the answer was complete")
        }
        return StreamedAnswer(usage: usage ?? .none, cutAtMaxTokens: finishReason == ChatCompletion.lengthFinish)
    }

    /// A server that ignored `stream: true` and sent one JSON completion: still an answer.
    private func wholeAnswer(_ response: HTTPClientResponse, onContent: (String) async throws(OpenAIFailure) -> Void) async throws -> StreamedAnswer {
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: OpenAIAgent.maxErrorBody * 64)
        } catch {
            throw classify(error)
        }
        guard let value = try? JSONValue.parse(body.readableBytesView), let object = value.object,
              let content = object["choices"]?.array?.first?.object?["message"]?.object?["content"]?.string else {
            throw OpenAIFailure(kind: .malformed, message: "the agent backend answered JSON without a message")
        }
        try await onContent(content)
        let reason = object["choices"]?.array?.first?.object?["finish_reason"]?.string
        return StreamedAnswer(usage: ChatCompletion.usageCounts(object["usage"]?.object), cutAtMaxTokens: reason == ChatCompletion.lengthFinish)
    }
}

/// How an answer ended, as the server said.
struct StreamedAnswer: Sendable, Equatable {
    var usage: AgentUsage
    /// `finish_reason: length`: the model had more to say than `max_tokens` allowed.
    var cutAtMaxTokens = false
}

extension OpenAIEndpoint {

    private func failure(for response: HTTPClientResponse) async -> OpenAIFailure {
        let status = Int(response.status.code)
        var bodyBytes: [UInt8] = []
        if let body = try? await response.body.collect(upTo: OpenAIAgent.maxErrorBody) {
            bodyBytes = Array(body.readableBytesView)
        }
        let detail = ChatCompletion.errorMessage(bodyBytes).map { ": \(serverText($0))" } ?? ""
        switch status {
        case 300...399:
            // Redirects are not followed (the key would go wherever a server points): say where to.
            let location = response.headers.first(name: "location").map { ", to \(serverText($0))" } ?? ""
            return OpenAIFailure(kind: .rejected, message: "the agent backend redirects (HTTP \(status)\(location)); redirects are not followed: set base_url to the final address")
        case 401, 403:
            return OpenAIFailure(kind: .auth, message: "the agent backend refused the API key (HTTP \(status)\(detail))")
        case 429:
            let wait = response.headers.first(name: "retry-after").flatMap(Self.retryAfter)
            return OpenAIFailure(kind: .rateLimited, message: "the agent backend is rate limiting (HTTP 429\(detail))",
                                 retryAfter: wait)
        case 500...599:
            return OpenAIFailure(kind: .server, message: "the agent backend failed (HTTP \(status)\(detail))")
        default:
            return OpenAIFailure(kind: .rejected, message: "the agent backend rejected the request (HTTP \(status)\(detail))",
                                 requestFault: [400, 413, 422].contains(status))
        }
    }

    /// A server's (or a library's) words, fit for the chat, the journal and `GetStatus`: one
    /// line, and without this endpoint's key (servers and proxies echo a refused key in their error message:
    /// "Incorrect API key provided: sk-...").
    func serverText(_ text: String) -> String {
        // Before the cut to one line, which could leave the key's first half; as written and as
        // a Swift description escapes it (what a library's error quotes).
        var text = text
        if let key = settings.apiKey?.text, !key.isEmpty {
            for form in [key, String(String(reflecting: key).dropFirst().dropLast())] where text.contains(form) {
                text = text.replacing(form, with: Secret.placeholder)
            }
        }
        return ChatCompletion.oneLine(text)
    }

    /// `Retry-After` in seconds (at most a day). An HTTP date is not worth a date parser here:
    /// it counts as longer than the gateway waits (the next endpoint is tried at once); a
    /// negative or empty value is no advice (the usual backoff).
    static func retryAfter(_ text: String) -> Duration? {
        let trimmed = text.trimmed(of: " \t")
        guard !trimmed.isEmpty else { return nil }
        guard let seconds = Double(trimmed), seconds.isFinite else { return .seconds(86_400) }
        guard seconds >= 0 else { return nil }
        return .milliseconds(Int64(min(seconds, 86_400) * 1000))
    }

    /// "connection refused", "connection reset by peer": the system's words, not NIO's dump.
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first {
            return reason(first.error)
        }
        return ChatCompletion.oneLine(String(describing: error))
    }

    private func classify(_ error: any Error) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        if let failure = error as? OpenAIFailure { return failure }
        if let client = error as? HTTPClientError {
            switch client {
            case .readTimeout:
                return OpenAIFailure(kind: .stalled, message: "the agent backend at \(settings.baseURL) sent nothing for \(DurationValue.describe(readTimeout))")
            case .connectTimeout:
                return OpenAIFailure(kind: .connection, message: "cannot connect to the agent backend at \(settings.baseURL) (timed out)")
            case .cancelled:
                return CancellationError()
            default:
                break
            }
        }
        // The library's own description may quote the request's headers (a value it refused to
        // send: `invalidHeaderFieldValues(["Bearer ..."])`), so it goes through the same filter.
        return OpenAIFailure(kind: .connection, message: "cannot talk to the agent backend at \(settings.baseURL): \(serverText(Self.reason(error)))")
    }
}
