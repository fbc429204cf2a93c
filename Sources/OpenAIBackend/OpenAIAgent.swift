import AsyncHTTPClient
import GatewayCore
import Logging
import NIOCore
import OpenAIProtocol

/// `agent.backend: openai`: each turn is one streamed chat completion, sent with the session's
/// history, on the first endpoint that answers.
///
/// Failures are bounded and told: an attempt that fails before any part reached the chat is
/// retried on the same endpoint (`retries`, with backoff; a 429 waits its `Retry-After`), then
/// the fallbacks are tried in order; every endpoint has a circuit breaker, so once one has failed
/// five times in a row turns skip it (and, when all are open, are answered at once) until a trial
/// request after the cooldown succeeds. Once a part has reached the chat, a failure ends the turn
/// (a retry would repeat what the chat already has). An interrupt cancels the turn's task, which
/// closes the connection: the server stops generating and no more parts are sent.
package final class OpenAIAgent: AgentBackend {
    /// How long establishing a connection may take (at most `request_timeout`).
    static let connectTimeout: TimeAmount = .seconds(10)
    /// What is read of an error response's body for its message.
    static let maxErrorBody = 64 << 10
    /// An answer longer than this ends the turn (a server that never stops must not grow the
    /// daemon's memory until `turn_timeout`); far beyond any `max_tokens` a chat needs.
    static let maxAnswerBytes = 1 << 20
    /// The history row of a running turn is brought up to date at most this often (each part
    /// would rewrite a long answer over and over); a crash loses at most this much of it.
    static let progressInterval: Duration = .seconds(1)

    /// Timing of retries and breakers; tests shorten them.
    package struct Tuning: Sendable {
        package var backoffBase: Duration = .milliseconds(500)
        package var backoffMax: Duration = .seconds(8)
        package var breakerThreshold = CircuitBreaker.defaultThreshold
        package var breakerCooldown = CircuitBreaker.defaultCooldown
        package init() {}
    }

    let settings: OpenAISettings
    let endpoints: [OpenAIEndpoint]
    let history: (any ConversationHistory)?
    let logger: Logger
    let tuning: Tuning
    /// `gatewayd_agent_errors_total{kind}`: one per failed attempt, by `OpenAIFailure.Kind`.
    let metrics: GatewayMetrics?

    /// `environment` is the process's (`https_proxy`, `http_proxy`, `no_proxy`).
    package init(settings: OpenAISettings, history: (any ConversationHistory)?, eventLoopGroup: any EventLoopGroup,
                 logger: Logger, environment: [String: String], tuning: Tuning = Tuning(), metrics: GatewayMetrics? = nil) {
        self.settings = settings
        self.metrics = metrics
        self.history = history
        self.logger = logger
        self.tuning = tuning
        let proxies = ProxyEnvironment(environment: environment)
        endpoints = settings.endpoints.map {
            OpenAIEndpoint($0, requestTimeout: settings.requestTimeout, proxy: proxies.proxy(for: $0.baseURL),
                           breaker: CircuitBreaker(threshold: tuning.breakerThreshold, cooldown: tuning.breakerCooldown),
                           eventLoopGroup: eventLoopGroup)
        }
    }

    package func endpointStatus() -> [AgentEndpointStatus] { endpoints.map(\.status) }

    package func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage {
        // Stopped before it began (`sessions reset` cancels the turn, then clears the history):
        // no row for it may land after the reset.
        try Task.checkCancellation()
        let start = await beginHistory(turn)
        let output = TurnOutput(reply: reply, history: history, turn: start?.turn)
        do {
            let usage = try await attempt(turn.text, earlier: start?.earlier ?? [], output)
            await output.finish()
            output.record(turn.session, .complete, usage)
            return usage
        } catch let failure as OpenAIFailure {
            // What was already sent stays the chat's; the partial line too, so it ends readably.
            await output.finish()
            output.record(turn.session, .failed, .none)
            throw AgentError(output.sentAnything ? "the answer was cut off: \(failure.message)" : failure.message)
        } catch {
            output.record(turn.session, .interrupted, .none)
            throw error
        }
    }

    /// Tries the endpoints in order (each with its retries); returns the tokens used.
    private func attempt(_ text: String, earlier: [HistoryTurn], _ output: TurnOutput) async throws -> AgentUsage {
        // The last failure of each endpoint, in order.
        var failures: [OpenAIFailure] = []
        var earlier = earlier
        for endpoint in endpoints {
            var retries = 0
            while true {
                let admission = endpoint.admit()
                if case .refused(let retryIn) = admission {
                    failures.append(OpenAIFailure(kind: .unavailable, message: unavailable(endpoint, retryIn: retryIn)))
                    break
                }
                let body = ChatCompletion.requestBody(model: endpoint.settings.model, settings: settings, earlier: earlier, text: text)
                do {
                    let answer = try await endpoint.stream(body: body) { (content: String) throws(OpenAIFailure) in try await output.add(content) }
                    endpoint.succeeded()
                    output.cutAtMaxTokens = answer.cutAtMaxTokens
                    return answer.usage
                } catch let failure as OpenAIFailure {
                    endpoint.failed(failure)
                    log(failure, endpoint, attempt: retries + 1)
                    if output.sentAnything { throw failure }
                    // Nothing reached the chat: the next attempt starts the answer afresh.
                    output.discardUnsent()
                    // Refused as too big with the history (a context the session outgrew): once
                    // more without it, rather than a session that can never be answered again.
                    if failure.requestFault && !earlier.isEmpty {
                        logger.warning("the agent backend refused the turn with its history; trying once without it",
                                       metadata: ["event": "agent_history_dropped", "pairs": "\(earlier.count)"])
                        earlier = []
                        continue
                    }
                    // A server that asks for a longer wait than the gateway makes a chat wait is
                    // not asked again: the next endpoint (or the reason) comes at once.
                    guard failure.retryable, retries < settings.retries, !failure.waitsTooLong else {
                        failures.append(failure)
                        break
                    }
                    retries += 1
                    try await Task.sleep(for: failure.retryAfter ?? backoff(retries))
                } catch {
                    endpoint.abandoned(admission)
                    throw error
                }
            }
        }
        throw summary(failures)
    }

    /// Exponential from `backoffBase`, capped, with up to 25% jitter so that sessions that
    /// failed together do not retry together.
    private func backoff(_ retry: Int) -> Duration {
        let exponential = tuning.backoffBase * (1 << min(retry - 1, 16))
        let capped = min(exponential, tuning.backoffMax)
        return capped + capped * Double.random(in: 0..<0.25)
    }

    /// One reason for the chat: the breakers' when nothing was tried, else the first real
    /// failure (the primary's, usually), saying when other endpoints failed as well or were
    /// skipped (an open breaker is not a failure of this turn: "the fallbacks failed too" would
    /// send the reader to logs of requests that were never made).
    private func summary(_ failures: [OpenAIFailure]) -> OpenAIFailure {
        let tried = failures.filter { $0.kind != .unavailable }
        guard let first = tried.first else {
            return failures.first ?? OpenAIFailure(kind: .unavailable, message: "the agent backend has no endpoint")
        }
        var notes: [String] = []
        if tried.count > 1 { notes.append("the fallbacks failed too") }
        if tried.count < failures.count { notes.append("\(failures.count - tried.count) skipped: breaker open") }
        guard !notes.isEmpty else { return first }
        return OpenAIFailure(kind: first.kind, message: first.message + " (" + notes.joined(separator: "; ") + ")")
    }

    private func unavailable(_ endpoint: OpenAIEndpoint, retryIn: Duration) -> String {
        let status = endpoint.status
        let last = status.lastError.map { "; last: \($0)" } ?? ""
        return "the agent backend at \(status.baseURL) is unavailable after \(status.consecutiveFailures) failures in a row"
            + " (trying again in \(DurationValue.wholeSeconds(retryIn) + 1)s)\(last)"
    }

    private func log(_ failure: OpenAIFailure, _ endpoint: OpenAIEndpoint, attempt: Int) {
        metrics?.agentError(kind: failure.kind.rawValue)
        logger.error("agent backend attempt failed: \(failure.message)", metadata: [
            "event": "agent_error", "kind": "\(failure.kind.rawValue)", "endpoint": "\(endpoint.settings.baseURL)",
            "model": "\(endpoint.settings.model)", "attempt": "\(attempt)",
        ])
    }

    private func beginHistory(_ turn: AgentTurn) async -> HistoryStart? {
        guard let history else { return nil }
        do {
            return try await history.beginTurn(session: turn.session, userText: turn.text, earlierPairs: settings.historyTurns,
                                               earlierBytes: ChatCompletion.maxHistoryBytes)
        } catch {
            logger.warning("turn runs without history: \(error)", metadata: ["event": "agent_history_failed"])
            return nil
        }
    }

}

/// What one turn sent so far: the parts the chat has, the answer as the model wrote it (kept in
/// the history as each part goes out).
final class TurnOutput {
    private let reply: @Sendable (String) async -> Void
    private let history: (any ConversationHistory)?
    private let turn: Int64?
    private var lines = ReplyLines()
    private(set) var answer = ""
    /// The parts the chat was sent, one per line: what an answer cut short is kept as (text
    /// streamed after the last part, or after an interrupt, was never said).
    private var said = ""
    private(set) var sentAnything = false
    private var recorded = false
    private var lastProgress: ContinuousClock.Instant?

    init(reply: @escaping @Sendable (String) async -> Void, history: (any ConversationHistory)?, turn: Int64?) {
        self.reply = reply
        self.history = history
        self.turn = turn
    }

    /// Throws once the answer passes `OpenAIAgent.maxAnswerBytes`.
    func add(_ content: String) async throws(OpenAIFailure) {
        answer += content
        guard answer.utf8.count <= OpenAIAgent.maxAnswerBytes else {
            throw OpenAIFailure(kind: .malformed, message: "the agent backend's answer passed \(OpenAIAgent.maxAnswerBytes >> 20) MiB")
        }
        for part in lines.add(content) { await send(part) }
    }

    /// Forgets text that never made a part (an attempt that failed before its first line).
    func discardUnsent() {
        lines = ReplyLines()
        answer = ""
        said = ""
    }

    /// Set when the server said the answer stopped at `max_tokens`: the chat is told, after
    /// the answer (not in the history: the model need not read it back).
    var cutAtMaxTokens = false

    func finish() async {
        if let tail = lines.finish() { await send(tail) }
        if cutAtMaxTokens, !Task.isCancelled { await reply(GatewayText.answerCutAtMaxTokens) }
    }

    /// Nothing once the turn is cancelled: `/stop` (or an interrupt, a timeout, a drain) has
    /// told the chat the turn is over, and events already read (several arrive in one read, and
    /// the tail waits for `finish`) must not follow that notice.
    private func send(_ part: String) async {
        guard !Task.isCancelled else { return }
        sentAnything = true
        said += said.isEmpty ? part : "\n" + part
        await reply(part)
        let now = ContinuousClock.now
        if let turn, lastProgress.map({ now - $0 >= OpenAIAgent.progressInterval }) ?? true {
            lastProgress = now
            history?.recordProgress(turn: turn, answer: said)
        }
    }

    func record(_ session: String, _ outcome: HistoryTurn.Outcome, _ usage: AgentUsage) {
        guard !recorded, let turn else { return }
        recorded = true
        history?.finishTurn(turn: turn, session: session, answer: outcome == .complete ? answer : said, outcome: outcome, usage: usage)
    }
}
