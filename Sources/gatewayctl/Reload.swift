import ArgumentParser
import GatewayWire
import JSON
#if canImport(Glibc)
import Glibc
#endif

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the configuration and apply it; or with --check, show what a reload would change.",
        discussion: """
            A reload applies quick commands, access, the agent (for turns that start from now), \
            exec limits, the drain timeout and the platforms one by one: an unchanged platform keeps \
            its connection, a changed one takes its settings in place or reconnects. control.socket, \
            control.socket_mode and state_dir keep their old values until a restart. An invalid file \
            changes nothing; its problems are listed with key path and line.

            --check compares the daemon's file (or --config PATH, read by gatewayctl and sent to the \
            daemon) with what runs, per section, and applies nothing.

            Exit codes: 0 valid (and applied), 1 invalid (problems listed) or a platform could not \
            start with its new settings, 2 valid, but some changes need a restart; 3, 4 and 64 as for \
            every command.
            """)
    @OptionGroup var options: ClientOptions
    @Flag(name: .long, help: "Validate and compare only; apply nothing.")
    var check = false
    @Option(name: .long, help: ArgumentHelp("With --check: the file to check instead of the daemon's own.", valueName: "path"))
    var config: String?

    /// `reload` and `reload --check`: valid, and nothing waits for a restart.
    static let needsRestart: Int32 = 2

    func validate() throws {
        if config != nil && !check {
            throw ValidationError("--config needs --check: a reload applies the daemon's own file (the one it was started with)")
        }
    }

    func run() throws {
        let text = try config.map(Self.read)
        let parameters = Wire.Reload.Parameters(check: check ? true : nil, configText: text)
        let result: Wire.Reload.Result
        do {
            result = try Client(options).call(Wire.Reload.self, parameters)
        } catch let failure as CtlFailure {
            guard case .configInvalid(_, let problems)? = failure.failure, let problems else { throw failure }
            report(invalid: problems)
            throw ExitCode(ExitStatus.failed)
        }
        if options.json {
            var object = result.parameters
            object["valid"] = true
            object["restart_needed"] = .bool(result.needsRestart)
            Output.json(.object(object))
        } else {
            print(Output.reloadText(result, file: config, checked: check))
        }
        if result.failed { throw ExitCode(ExitStatus.failed) }
        if result.needsRestart { throw ExitCode(Self.needsRestart) }
    }

    private func report(invalid problems: [Wire.ConfigProblem]) {
        if options.json {
            Output.json(.object(["valid": false, "problems": problems.wireValue]))
            return
        }
        let name = config ?? "the configuration"
        let lines = problems.map { "\(name): \($0.severity): \($0.text)" }
        if check {
            for line in lines { print(line) }
            print("\(name): invalid; nothing was applied")
        } else {
            for line in lines { Output.error(line) }
            Output.error("gatewayctl: the configuration was refused, the old one stays")
        }
    }

    /// The file's text (the daemon reads no path a client names).
    static func read(_ path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CtlFailure(status: ExitStatus.failed, message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CtlFailure(status: ExitStatus.failed, message: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= maxConfigBytes else {
                throw CtlFailure(status: ExitStatus.failed, message:
                    "\(path) is larger than \(maxConfigBytes >> 10) KiB, more than a call on the control socket carries; check it with gatewayd --check-config --config \(path)")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CtlFailure(status: ExitStatus.failed, message: "\(path) is not UTF-8 text")
        }
        return text
    }

    /// What one call may carry: the control socket takes messages up to 1 MiB, and JSON may
    /// double a text's size (quotes and backslashes escaped).
    static let maxConfigBytes = 256 << 10
}
