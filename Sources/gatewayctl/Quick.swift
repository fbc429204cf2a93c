import ArgumentParser
import GatewayWire

struct Quick: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or run quick commands.", subcommands: [List.self, Run.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the configured quick commands.")
        @OptionGroup var options: ClientOptions

        func run() throws {
            let commands = try Client(options).call(Wire.ListQuickCommands.self).commands
            if options.json { return Output.json(commands) }
            for command in commands {
                let detail = command.command ?? command.target.map { "→ \($0)" } ?? "(misconfigured)"
                print("/\(command.name)\t\(command.type)\t\(detail)")
            }
        }
    }

    /// Exits as timeout(1) does: the command's own status, 124 timed out, 125 not run at all.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an exec quick command now (works while the gateway drains) and exit with its status.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The quick command's name, without the slash.") var name: String
        @Argument(parsing: .captureForPassthrough, help: "Arguments (used by commands with args: pass).")
        var arguments: [String] = []

        func run() throws {
            let reply: Wire.RunQuickCommand.Result
            do {
                // `quick run NAME -- --flag`: the separator is not an argument.
                let passed = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
                let parameters = Wire.RunQuickCommand.Parameters(name: name, args: passed.isEmpty ? nil : passed)
                reply = try Client(options, waitForever: true).call(Wire.RunQuickCommand.self, parameters)
            } catch let failure as CtlFailure {
                aliasHint(failure)?.report() ?? failure.report()
                throw ExitCode(ExitStatus.notRun)
            }
            if options.json {
                Output.json(reply)
            } else {
                if !reply.output.isEmpty { print(reply.output) }
                if reply.truncated {
                    Output.error("gatewayctl: /\(name)'s output was cut at exec.max_output; the rest was dropped")
                }
            }
            if reply.timedOut {
                if !options.json { Output.error("gatewayctl: /\(name) timed out") }
                throw ExitCode(ExitStatus.timedOut)
            }
            // As a shell reports them; a value no process can have (a hostile or broken server)
            // is "not run" rather than a trap in the conversion.
            if let signal = reply.signal {
                throw ExitCode((1...64).contains(signal) ? Int32(128 + signal) : ExitStatus.notRun)
            }
            let status = reply.exitStatus ?? 0
            throw ExitCode((0...255).contains(status) ? Int32(status) : ExitStatus.notRun)
        }

        /// An alias (or a built-in) is not an exec quick command: it runs as a chat message does,
        /// which `gatewayctl send /NAME` does. Nil when the failure is something else.
        private func aliasHint(_ failure: CtlFailure) -> CtlFailure? {
            guard failure.isNoSuchQuickCommand,
                  let commands = try? Client(options).call(Wire.ListQuickCommands.self).commands,
                  let entry = commands.first(where: { $0.name == name }), entry.type == Wire.QuickCommand.Kind.alias
            else { return nil }
            return CtlFailure(status: failure.status, message:
                "/\(name) is an alias of \(entry.target ?? "another command"), not an exec quick command; run it as a chat message: gatewayctl send /\(name)")
        }
    }
}
