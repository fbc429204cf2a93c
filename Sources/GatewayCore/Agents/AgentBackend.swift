import JSON
import ProcessRunner

/// One turn of the agent: the session's text in, zero or more replies out.
package struct AgentTurn: Sendable, Equatable {
    package var session: String
    package var platform: String
    package var chat: String
    package var user: String
    package var text: String

    /// What the `command` agent reads on stdin: one JSON object, keys sorted.
    package var json: JSONValue {
        ["session": .string(session), "platform": .string(platform), "chat": .string(chat), "user": .string(user),
         "text": .string(text)]
    }
}

/// An AI agent behind the gateway. A turn is interrupted by cancelling its task; the dispatcher
/// enforces `agent.turn_timeout` the same way, so a backend only has to honour cancellation.
package protocol AgentBackend: Sendable {
    func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws
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

    package func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws {
        await reply("echo: \(turn.text)")
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

    package func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws {
        guard let executable = argv.first else { throw AgentError("agent.command is empty") }
        let input = turn.json.serialized() + [UInt8(ascii: "\n")]
        let result: ProcessResult
        do {
            result = try await runner.run(ProcessSpec(
                executable: executable, argv: argv, environment: environment, timeout: timeout,
                outputLimit: 1 << 20, standardInput: input))
        } catch let error as ProcessRunnerError {
            throw AgentError("cannot run \(executable): \(error.message)")
        }
        for line in result.standardOutput.text.split(separator: "\n", omittingEmptySubsequences: true) {
            await reply(String(line))
        }
        if result.timedOut { throw AgentError("\(executable) did not finish within its timeout") }
        if result.termination != .exited(0) {
            let detail = result.standardError.text.split(separator: "\n").first.map { ": \($0)" } ?? ""
            throw AgentError("\(executable) \(result.termination)\(detail)")
        }
    }
}
