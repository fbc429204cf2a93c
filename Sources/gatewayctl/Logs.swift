import ArgumentParser
import GatewayWire
#if canImport(Glibc)
import Glibc
#endif

/// journalctl with the unit and the gateway's fields filled in.
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show gatewayd's journal (runs journalctl with the unit and field matches filled in).")
    @Flag(name: .shortAndLong, help: "Follow new records.") var follow = false
    @Option(name: .customShort("n"), help: ArgumentHelp("Show the last N records.", valueName: "N")) var lines: Int?
    @Option(help: "Only records of this session (GATEWAY_SESSION).") var session: String?
    @Option(help: "Only records of this quick command (GATEWAY_QUICK_COMMAND).") var quick: String?
    @Option(help: "The systemd unit.") var unit = "gatewayd.service"
    /// Accepted like every command's (`--json` gives journalctl's JSON output; the socket is unused).
    @OptionGroup var options: ClientOptions

    func run() throws {
        var arguments = ["journalctl", "--no-pager", "-u", unit]
        if follow { arguments.append("-f") }
        if let lines { arguments += ["-n", String(lines)] }
        if options.json { arguments += ["-o", "json"] }
        if let session { arguments.append("\(GatewayProduct.journalFieldPrefix)SESSION=\(session)") }
        if let quick { arguments.append("\(GatewayProduct.journalFieldPrefix)QUICK_COMMAND=\(quick)") }
        // A gatewayd started by hand writes to its own stderr: the journal has nothing for it.
        if let state = UnitState.query(unit), state.activeState == "inactive" {
            Output.error("gatewayctl: \(unit) is not running; a gatewayd started by hand (not by systemd) logs to its own stderr, not to the journal")
        }
        let argv = arguments.map { strdup($0) } + [nil]
        execvp("journalctl", argv)
        throw CtlFailure(status: ExitStatus.failed, message: "cannot run journalctl: \(String(cString: strerror(errno))); is systemd installed?")
    }
}
