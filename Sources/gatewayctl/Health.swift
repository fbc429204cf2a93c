import ArgumentParser
import GatewayWire
import JSON

/// Liveness and readiness, for monitoring and for scripts: alive when the dispatcher answers a
/// status call in time; ready when the gateway runs (not draining or stopping), every enabled
/// platform is up and the durable queue is in use.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that gatewayd is alive and ready; say what is not ready and why.",
        discussion: """
            Alive: the dispatcher answers within --within seconds (default 1). Ready: the gateway \\
            is running (not starting, draining or stopping), every enabled platform is up, and the \\
            durable queue is in use.

            Exit codes: 0 ready, 1 alive but not ready (each reason printed), 3 not running or not \\
            answering in time; 4 and 64 as for every command.
            """)
    @OptionGroup var options: ClientOptions
    @Option(help: ArgumentHelp("Seconds the gateway has to answer before it counts as not alive.", valueName: "seconds"))
    var within: Double = 1

    func validate() throws {
        try ClientOptions.checkSeconds(within, option: "--within")
    }

    func run() throws {
        var bounded = options
        bounded.timeout = min(options.timeout, within)
        let status: Wire.Status
        do {
            status = try Client(bounded).call(Wire.GetStatus.self).status
        } catch let failure as CtlFailure where failure.status == ExitStatus.failed && failure.error == nil {
            // No answer in time (a wedged dispatcher): not alive, as if not running.
            throw CtlFailure(status: ExitStatus.notRunning, message: "not alive: \(failure.message)")
        }
        let problems = Self.readinessProblems(status)
        if options.json {
            Output.json(.object(["alive": true, "ready": .bool(problems.isEmpty), "problems": .array(problems.map { .string($0) }),
                                 "status": status.wireValue]))
        } else if problems.isEmpty {
            print("ready: \(status.state), \(status.platforms.count) platform\(status.platforms.count == 1 ? "" : "s") up")
        } else {
            print("alive, not ready:")
            for problem in problems { print("  - \(problem)") }
        }
        if !problems.isEmpty { throw ExitCode(ExitStatus.failed) }
    }

    /// Why the gateway is not ready; empty when it is (`Wire.Status.readinessProblems`).
    static func readinessProblems(_ status: Wire.Status) -> [String] { status.readinessProblems }
}
