import JSON
import ProcessRunner

/// One turn of the agent: the session's text in, zero or more replies out.
package struct AgentTurn: Sendable, Equatable {
    package var session: String
    package var platform: String
    package var chat: String
    package var user: String
    package var text: String

    package init(session: String, platform: String, chat: String, user: String, text: String) {
        self.session = session
        self.platform = platform
        self.chat = chat
        self.user = user
        self.text = text
    }

    /// What the `command` agent reads on stdin: one JSON object, keys sorted.
    package var json: JSONValue {
        ["session": .string(session), "platform": .string(platform), "chat": .string(chat), "user": .string(user),
         "text": .string(text)]
    }
}

/// An AI agent behind the gateway. A turn is interrupted by cancelling its task; the dispatcher
/// enforces `agent.turn_timeout` the same way, so a backend only has to honour cancellation.
package protocol AgentBackend: Sendable {
    /// Runs one turn, handing each part of the answer to `reply` as soon as it is complete (the
    /// chat sees a long answer while it is still being generated). Returns the tokens the turn
    /// used, where the backend knows them.
    func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage

    /// Each remote endpoint with its circuit breaker, for `GetStatus` and readiness (none for a
    /// local backend). Cheap: read on every status call.
    func endpointStatus() -> [AgentEndpointStatus]
}

extension AgentBackend {
    package func endpointStatus() -> [AgentEndpointStatus] { [] }
}

/// Tokens a turn consumed, as the backend's server counted them.
package struct AgentUsage: Sendable, Equatable {
    package var tokensIn: Int
    package var tokensOut: Int

    package init(tokensIn: Int, tokensOut: Int) {
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
    }

    /// A backend that does not count tokens (echo, command).
    package static let none = AgentUsage(tokensIn: 0, tokensOut: 0)

    /// Saturating: a session's total stops at `Int.max` rather than wrapping to a negative count.
    package static func + (lhs: AgentUsage, rhs: AgentUsage) -> AgentUsage {
        AgentUsage(tokensIn: saturating(lhs.tokensIn, rhs.tokensIn), tokensOut: saturating(lhs.tokensOut, rhs.tokensOut))
    }

    private static func saturating(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? Int.min : Int.max) : sum
    }
}

/// One endpoint of a remote backend as `GetStatus` shows it. Never carries the API key.
package struct AgentEndpointStatus: Sendable, Equatable {
    package enum Breaker: String, Sendable, Equatable {
        /// Turns go to it.
        case closed
        /// Failed too often: skipped until the cooldown is over.
        case open
        /// Cooldown over: one trial turn decides whether it closes or opens again.
        case halfOpen = "half-open"
    }

    package var baseURL: String
    package var model: String
    package var breaker: Breaker
    /// Failures in a row (reset by a success).
    package var consecutiveFailures: Int
    package var lastError: String?
    /// When `lastError` happened, microseconds since the epoch.
    package var lastErrorUsec: Int64?

    package init(baseURL: String, model: String, breaker: Breaker, consecutiveFailures: Int,
                 lastError: String? = nil, lastErrorUsec: Int64? = nil) {
        self.baseURL = baseURL
        self.model = model
        self.breaker = breaker
        self.consecutiveFailures = consecutiveFailures
        self.lastError = lastError
        self.lastErrorUsec = lastErrorUsec
    }
}

/// A turn that failed, with a reason fit for the chat.
package struct AgentError: Error, Sendable, CustomStringConvertible {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Replies `echo: TEXT`: the zero-config default, and a fixture for tests and benchmarks.
package struct EchoAgent: AgentBackend {
    package init() {}

    package func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage {
        await reply("echo: \(turn.text)")
        return .none
    }
}

/// Runs the configured argv once per turn (through ProcessRunner: own process group, killed on
/// interrupt or timeout), writes the turn as one JSON object on stdin, and sends each line of
/// stdout as a reply. A crash or non-zero exit becomes a clear error, never silence.
package struct CommandAgent: AgentBackend {
    package let argv: [String]
    package let runner: ProcessRunner
    package let environment: [String: String]
    package let timeout: Duration

    package init(argv: [String], runner: ProcessRunner, environment: [String: String], timeout: Duration) {
        self.argv = argv
        self.runner = runner
        self.environment = environment
        self.timeout = timeout
    }

    package func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage {
        guard let executable = argv.first else { throw AgentError("agent.command is empty") }
        let input = turn.json.serialized() + [UInt8(ascii: "\n")]
        // Each line reaches the chat as soon as the command writes it, not when it exits.
        let (chunks, output) = AsyncStream.makeStream(of: [UInt8].self)
        var spec = ProcessSpec(executable: executable, argv: argv, environment: environment, timeout: timeout,
                               outputLimit: 1 << 20, standardInput: input)
        spec.onStandardOutput = { output.yield($0) }
        let result: ProcessResult = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var pending: [UInt8] = []
                for await chunk in chunks {
                    pending += chunk
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        var line = pending[..<newline]
                        if line.last == UInt8(ascii: "\r") { line.removeLast() }
                        pending.removeSubrange(...newline)
                        if !line.isEmpty { await reply(String(decoding: line, as: UTF8.self)) }
                    }
                }
                if !pending.isEmpty { await reply(String(decoding: pending, as: UTF8.self)) }
            }
            defer { output.finish() }
            do {
                return try await runner.run(spec)
            } catch let error as ProcessRunnerError {
                throw AgentError("cannot run \(executable): \(error.message)")
            }
        }
        if result.timedOut { throw AgentError("\(executable) did not finish within its timeout") }
        if result.termination != .exited(0) {
            let detail = result.standardError.text.split(separator: "\n").first.map { ": \($0)" } ?? ""
            throw AgentError("\(executable) \(result.termination)\(detail)")
        }
        return .none
    }
}
