import Foundation
import GatewayControl
import GatewayCore
import GatewayTestSupport
import GatewayWire
import JSON
import Logging
import Testing
import Varlink
import VarlinkClient
import VarlinkProtocol

/// Reloads from a file the test writes, and puts the new file's permissions in force, as the
/// daemon does.
actor FileHost: GatewayControlHost {
    let path: String
    let dispatcher: Dispatcher
    let makePermissions: @Sendable (GatewayConfig) -> ControlPermissions
    /// The interface holds this host: `detach()` at the end of a test breaks the pair (left, it
    /// leaked both after every test).
    var interface: GatewayInterface?

    init(path: String, dispatcher: Dispatcher, makePermissions: @escaping @Sendable (GatewayConfig) -> ControlPermissions) {
        self.path = path
        self.dispatcher = dispatcher
        self.makePermissions = makePermissions
    }

    func attach(_ interface: GatewayInterface) { self.interface = interface }
    func detach() { interface = nil }

    func reloadConfiguration(check: Bool, text: String?) async throws(ConfigError) -> ReloadOutcome {
        let outcome: ConfigLoader.LoadedConfig
        do { outcome = try ConfigLoader.load(path: path) } catch let error as ConfigError { throw error } catch {
            throw ConfigError(file: path, problems: [])
        }
        let changes = ConfigChange.changes(from: await dispatcher.config, to: outcome.config)
        if !check {
            await dispatcher.reload(outcome.config)
            interface?.replacePermissions(makePermissions(outcome.config))
        }
        return ReloadOutcome(applied: !check, revision: outcome.revision, changes: changes, warnings: outcome.warnings)
    }

    var platformNames: [String] { ["local"] }
}

/// A real gateway control server on a temporary socket: the dispatcher, the interface, varlink.
struct Gateway {
    let directory: String
    let socket: String
    let configPath: String
    let dispatcher: Dispatcher
    let server: VarlinkServer
    let interface: GatewayInterface
    let host: FileHost

    static let yaml = """
        quick_commands:
          hello: {type: exec, command: "echo hello"}
          fail: {type: exec, command: "echo nope >&2; exit 7"}
          slow: {type: exec, command: "sleep 30", timeout: 300ms}
          held: {type: exec, command: "read -r _ < $DIR/gate", timeout: 30s}
          words: {type: exec, command: 'printf "<%s>" "$@"', args: pass}
          st: {type: alias, target: /status}
          big: {type: exec, command: "head -c 70000 /dev/zero | tr '\\\\0' x"}
        """

    /// A lineage in which this test process is not the daemon: gatewayctl and other children
    /// the tests start are unrelated peers (the tests of `ProcessLineage` itself use the real one).
    static let unrelatedLineage = ProcessLineage(daemonPID: .max, serviceCgroup: nil)

    /// Permissions as the daemon builds them from a configuration, with `lineage`.
    static func permissions(lineage: ProcessLineage = unrelatedLineage) -> @Sendable (GatewayConfig) -> ControlPermissions {
        { config in ControlPermissions(daemonUID: getuid(), adminGroup: config.control.adminGroup, lineage: lineage) }
    }

    /// `yaml` may name the gateway's directory as `$DIR` and its socket as `$SOCKET`.
    static func start(mode: UInt32 = 0o600, yaml: String = yaml, configuration: VarlinkServer.Configuration = .init(),
                      permissions: @escaping @Sendable (GatewayConfig) -> ControlPermissions = Gateway.permissions(),
                      logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })) async throws -> Gateway {
        let directory = makeTemporaryDirectory("gatewayd-control")
        chmod(directory, 0o755)
        let configPath = directory + "/gatewayd.yaml"
        let socket = directory + "/control"
        try expand(yaml, directory: directory).write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: configPath).config
        let dispatcher = Dispatcher(config: config, agent: EchoAgent())
        await dispatcher.markRunning()
        let host = FileHost(path: configPath, dispatcher: dispatcher, makePermissions: permissions)
        let interface = GatewayInterface(dispatcher: dispatcher, host: host, permissions: permissions(config), logger: logger)
        await host.attach(interface)
        let server = VarlinkServer(
            info: VarlinkServiceInfo(vendor: "gatewayd", product: "gatewayd", version: GatewayConstants.version, url: "https://varlink.org"),
            interfaces: [interface], configuration: configuration, logger: logger)
        try await server.bind(path: socket, mode: mode)
        return Gateway(directory: directory, socket: socket, configPath: configPath, dispatcher: dispatcher, server: server,
                       interface: interface, host: host)
    }

    /// `yaml` with `$DIR` and `$SOCKET` replaced by the gateway's directory and socket.
    static func expand(_ yaml: String, directory: String) -> String {
        yaml.replacingOccurrences(of: "$DIR", with: directory).replacingOccurrences(of: "$SOCKET", with: directory + "/control")
    }

    /// Replaces the configuration file (for a reload).
    func writeConfig(_ yaml: String) throws {
        try Self.expand(yaml, directory: directory).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func stop() async {
        await server.shutdown()
        await host.detach()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// One call on a fresh connection, on a thread of its own.
    func call(_ method: Wire.Method, _ parameters: [String: JSONValue] = [:]) async throws -> VarlinkReply {
        let socket = self.socket
        return try await onThread {
            try VarlinkConnection(path: socket, timeout: .seconds(10)).call(VarlinkCall(method: method.qualified, parameters: parameters))
        }
    }

    /// gatewayctl against this gateway; as nobody, with `groups` as its supplementary groups.
    func ctl(_ arguments: [String], asNobody: Bool = false, groups: [String] = []) async throws -> ProcessOutput {
        let groupOption = groups.isEmpty ? "--clear-groups" : "--groups=" + groups.joined(separator: ",")
        let argv = (asNobody ? ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", groupOption] : [])
            + [TestPaths.product("gatewayctl"), "--socket", socket] + arguments
        return try await onThread { try run(argv) }
    }
}

@Suite("io.gatewayd.Gateway", .timeLimit(.minutes(1)))
struct GatewayControlTests {
    @Test("GetStatus carries the fixed fields; the interface file is served verbatim")
    func status() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        let status = try await gateway.call(.getStatus).parameters["status"]?.object ?? [:]
        #expect(status["state"] == "running")
        #expect(status["pid"]?.int == Int64(getpid()))
        #expect(status["version"]?.string == GatewayConstants.version)
        #expect(status["platforms"] == ["local"])
        for field in ["uptime_usec", "turns_in_flight", "exec_running", "sessions"] { #expect(status[field]?.int != nil, "\(field)") }
        let socket = gateway.socket
        let description = try await onThread {
            try VarlinkConnection(path: socket).call(VarlinkCall(
                method: "org.varlink.service.GetInterfaceDescription", parameters: ["interface": "io.gatewayd.Gateway"]))
        }
        let file = try String(contentsOfFile: TestPaths.packageRoot + "/Sources/GatewayControl/io.gatewayd.Gateway.varlink", encoding: .utf8)
        #expect(description.parameters["description"]?.string == file)
    }

    @Test("RunQuickCommand: output, status, arguments, errors; and it works while draining")
    func runQuickCommand() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        let hello = try await gateway.call(.runQuickCommand, ["name": "hello"])
        #expect(hello.parameters["output"] == "hello")
        #expect(hello.parameters["exit_status"] == 0)
        #expect(hello.parameters["timed_out"] == false)
        let fail = try await gateway.call(.runQuickCommand, ["name": "fail"])
        #expect(fail.parameters["output"] == "nope")
        #expect(fail.parameters["exit_status"] == 7)
        #expect(try await gateway.call(.runQuickCommand, ["name": "words", "args": ["a b", "$c"]]).parameters["output"] == "<a b><$c>")
        #expect(try await gateway.call(.runQuickCommand, ["name": "slow"]).parameters["timed_out"] == true)
        #expect(try await gateway.call(.runQuickCommand, ["name": "nope"]) == .error(Wire.Failure.Name.noSuchQuickCommand, ["name": "nope"]))
        #expect(try await gateway.call(.runQuickCommand, ["name": 5]) == .error(VarlinkError.invalidParameter, ["parameter": "name"]))
        #expect(try await gateway.call(.runQuickCommand, ["name": "hello", "args": "x"]) == .error(VarlinkError.invalidParameter, ["parameter": "args"]))

        let drained = try await gateway.call(.drain)
        #expect(drained.parameters["status"]?.object?["state"] == "draining")
        #expect(drained.parameters["status"]?.object?["reason"] == "admin")
        #expect(try await gateway.call(.runQuickCommand, ["name": "hello"]).parameters["output"] == "hello")
        #expect(try await gateway.call(.sendMessage, ["text": "hi"]).parameters["replies"]
            == ["⏳ Gateway is draining and is not accepting new work right now."])
        #expect(try await gateway.call(.sendMessage, ["text": "/hello"]).parameters["replies"] == ["hello"])
        #expect(try await gateway.call(.resume).parameters["status"]?.object?["state"] == "running")
    }

    @Test("SendMessage, sessions, quick command list")
    func sessionsAndMessages() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        #expect(try await gateway.call(.sendMessage, ["text": "hi", "chat": "ops"]).parameters["replies"] == ["echo: hi"])
        let sessions = try await gateway.call(.listSessions).parameters["sessions"]?.array ?? []
        #expect(sessions.count == 1)
        #expect(sessions.first?.object?["key"] == "local:dm:ops")
        #expect(try await gateway.call(.stopTurn, ["session": "local:dm:ops"]).parameters["stopped"] == false)
        #expect(try await gateway.call(.resetSession, ["session": "local:dm:ops"]).parameters["reset"] == true)
        #expect(try await gateway.call(.resetSession, ["session": "local:dm:ops"]).error == Wire.Failure.Name.noSuchSession)
        let commands = try await gateway.call(.listQuickCommands).parameters["commands"]?.array ?? []
        #expect(commands.compactMap { $0.object?["name"]?.string } == ["big", "fail", "held", "hello", "slow", "st", "words"])
        #expect(commands.first { $0.object?["name"] == "words" }?.object?["args"] == "pass")
        #expect(commands.first { $0.object?["name"] == "st" }?.object?["target"] == "/status")
    }

    @Test("Reload applies a valid file and refuses an invalid one, keeping the old")
    func reload() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        try "quick_commands: {fresh: {type: exec, command: 'echo fresh'}}".write(toFile: gateway.configPath, atomically: true, encoding: .utf8)
        #expect(try await gateway.call(.reload).error == nil)
        #expect(try await gateway.call(.runQuickCommand, ["name": "fresh"]).parameters["output"] == "fresh")
        try "quick_commands: {fresh: {type: exec, command: 'echo x', timeout: soon}}".write(toFile: gateway.configPath, atomically: true, encoding: .utf8)
        let refused = try await gateway.call(.reload)
        #expect(refused.error == Wire.Failure.Name.configInvalid)
        #expect(refused.parameters["message"]?.string?.contains("quick_commands.fresh.timeout") == true)
        #expect(try await gateway.call(.runQuickCommand, ["name": "fresh"]).parameters["output"] == "fresh")
    }

    @Test("Subscribe needs more; then the status, then one reply per event")
    func subscribe() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        #expect(try await gateway.call(.subscribe).error == VarlinkError.expectedMore)
        let socket = gateway.socket
        let started = FIFOSignal()
        let collected = Task {
            try await onThread { () throws -> [VarlinkReply] in
                var replies: [VarlinkReply] = []
                try VarlinkConnection(path: socket, timeout: .seconds(10)).stream(VarlinkCall(method: Wire.Method.subscribe.qualified)) { reply in
                    replies.append(reply)
                    if replies.count == 1 { started.send("subscribed") }
                    return reply.parameters["event"]?.object?["kind"] != "quick_command_finished"
                }
                return replies
            }
        }
        #expect(await started.waitForLine() == "subscribed")
        _ = try await gateway.call(.runQuickCommand, ["name": "hello"])
        let replies = try await collected.value
        #expect(replies.first?.parameters["status"]?.object?["state"] == "running")
        #expect(replies.allSatisfy { $0.continues })
        let kinds = replies.dropFirst().compactMap { $0.parameters["event"]?.object?["kind"]?.string }
        #expect(kinds.contains("quick_command_started"))
        #expect(kinds.last == "quick_command_finished")
        #expect(replies.last?.parameters["event"]?.object?["exit_status"] == 0)
    }

    @Test("Drain with more reports each change until nothing is in flight")
    func drainStream() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        let socket = gateway.socket
        // A quick command in flight, so the drain has something to wait for. It waits at a FIFO
        // gate until the drain has reported it (a 2 s timeout stood in for that, and a loaded
        // machine outran it: the command was over before the Drain call arrived).
        let gate = gateway.directory + "/gate"
        mkfifo(gate, 0o600)
        let gateFD = open(gate, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        defer { close(gateFD) }
        let events = await gateway.dispatcher.subscribe()
        async let held = gateway.call(.runQuickCommand, ["name": "held"])
        for await event in events { if case .quickCommandStarted = event { break } }
        let replies = try await onThread { () throws -> [VarlinkReply] in
            var replies: [VarlinkReply] = []
            try VarlinkConnection(path: socket, timeout: .seconds(10)).stream(VarlinkCall(method: Wire.Method.drain.qualified)) {
                replies.append($0)
                // Reported as in flight: now let it finish.
                if replies.count == 1 { _ = write(gateFD, "go\n", 3) }
                return true
            }
            return replies
        }
        #expect(replies.count >= 2)
        #expect(replies.first?.parameters["status"]?.object?["exec_running"] == 1)
        #expect(replies.last?.parameters["status"]?.object?["exec_running"] == 0)
        #expect(replies.last?.continues == false)
        #expect(try await held.parameters["exit_status"] == 0)
    }

    @Test("another uid may read but not change: PermissionDenied, and gatewayctl exits 4 or 125",
          .enabled(if: geteuid() == 0, "needs root to run a client as nobody"))
    func permissions() async throws {
        let gateway = try await Gateway.start(mode: 0o666)
        defer { Task { await gateway.stop() } }
        let status = try await gateway.ctl(["--json", "status"], asNobody: true)
        #expect(status.status == 0, "\(status.standardError)")
        #expect(status.standardOutput.contains(#""state":"running""#))
        let drain = try await gateway.ctl(["drain", "--no-wait"], asNobody: true)
        #expect(drain.status == 4)
        #expect(drain.standardError == "gatewayctl: permission denied: Drain changes the gateway; \(GatewayText.notAnAdmin(uid: 65534, adminGroup: nil))\n",
                "the daemon's own reason")
        let run = try await gateway.ctl(["quick", "run", "hello"], asNobody: true)
        #expect(run.status == 125)
        #expect(run.standardError.contains("permission denied"))
        #expect(await gateway.dispatcher.state == .running)
    }
}

@Suite("gatewayctl", .timeLimit(.minutes(1)))
struct GatewayCtlTests {
    @Test("no daemon: exit 3 and what to do")
    func notRunning() async throws {
        let output = try await onThread { try run([TestPaths.product("gatewayctl"), "--socket", "/nonexistent/control", "status"]) }
        #expect(output.status == 3)
        #expect(output.standardError == "gatewayctl: gatewayd is not running (no socket at /nonexistent/control); start it with: gatewayd --socket /nonexistent/control\n")
        let quick = try await onThread { try run([TestPaths.product("gatewayctl"), "quick", "run", "x", "--socket", "/nonexistent/control"]) }
        #expect(quick.status == 125)
        // The shipped layout's sockets belong to units: the hint starts the right socket unit.
        for (socket, unit) in [("/run/gatewayd/control", "gatewayd.socket"), ("/run/gatewayd-ops/control", "gatewayd@ops.socket")]
        where access(socket, F_OK) != 0 {
            let instance = try await onThread { try run([TestPaths.product("gatewayctl"), "--socket", socket, "status"]) }
            #expect(instance.status == 3)
            #expect(instance.standardError.hasSuffix("start it with: systemctl start \(unit)\n"), "\(instance.standardError)")
        }
    }

    @Test("chat text reaches a terminal with its control characters escaped; a pipe gets it as it is")
    func terminalEscapes() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        let evil = "\u{1B}]0;pwned\u{07}\u{1B}[2Jhi\u{9B}31m"
        // script(1) gives gatewayctl a terminal (a pty) for its stdout.
        let command = "\(TestPaths.product("gatewayctl")) --socket \(gateway.socket) send \"$EVIL\""
        let terminal = try await onThread {
            try run(["/usr/bin/script", "-qec", command, "/dev/null"], environment: environment(with: ["EVIL": evil]))
        }
        #expect(terminal.status == 0, "\(terminal.standardError)")
        #expect(terminal.standardOutput.contains(#"echo: \x1B]0;pwned\x07\x1B[2Jhi\u{9B}31m"#), "\(terminal.standardOutput.debugDescription)")
        #expect(!terminal.standardOutput.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{9B}" })
        let piped = try await gateway.ctl(["send", evil])
        #expect(piped.standardOutput == "echo: \(evil)\n", "scripts reading a pipe get the text as it is")
    }

    @Test("gatewayctl links no Foundation of its own (only ArgumentParser's FoundationEssentials): no ICU to load at every start")
    func noFoundation() async throws {
        let libraries = try await onThread { try run(["/usr/bin/ldd", TestPaths.product("gatewayctl")]) }
        #expect(libraries.status == 0)
        for library in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so", "libyaml"] {
            #expect(!libraries.standardOutput.contains(library), "\(library) in \(libraries.standardOutput)")
        }
    }

    @Test("bare gatewayctl is a usage error (64) whose help names the global options")
    func bare() async throws {
        let output = try await onThread { try run([TestPaths.product("gatewayctl")]) }
        #expect(output.status == 64)
        for option in ["--socket PATH", "--json", "--timeout S"] {
            #expect(output.standardError.contains(option), "\(option) in \(output.standardError)")
        }
        let help = try await onThread { try run([TestPaths.product("gatewayctl"), "--help"]) }
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("--socket PATH"))
    }

    @Test("a wait that no clock can hold (inf, NaN, 1e300, 0) is a usage error (64) that names the range, not a trap")
    func impossibleWaits() async throws {
        for arguments in [["status", "--timeout", "inf"], ["status", "--timeout", "nan"], ["status", "--timeout", "0"],
                          ["drain", "--drain-timeout", "1e300"], ["drain", "--drain-timeout", "0"]] {
            let output = try await onThread { try run([TestPaths.product("gatewayctl"), "--socket", "/nonexistent"] + arguments) }
            #expect(output.status == 64, "\(arguments): \(output.status) \(output.standardError)")
            #expect(output.standardError.contains("30 days"), "\(arguments): \(output.standardError)")
        }
    }

    @Test("quick run exits as timeout(1) does; --json parses")
    func quickRun() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        let hello = try await gateway.ctl(["quick", "run", "hello"])
        #expect(hello.status == 0)
        #expect(hello.standardOutput == "hello\n")
        #expect(try await gateway.ctl(["quick", "run", "fail"]).status == 7)
        #expect(try await gateway.ctl(["quick", "run", "slow"]).status == 124)
        let missing = try await gateway.ctl(["quick", "run", "nope"])
        #expect(missing.status == 125)
        #expect(missing.standardError.contains("no exec quick command named 'nope'"))
        let words = try await gateway.ctl(["quick", "run", "words", "--", "--flag", "two words"])
        #expect(words.standardOutput == "<--flag><two words>\n")
        let json = try await gateway.ctl(["--json", "quick", "run", "hello"])
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        #expect(object?["output"] as? String == "hello")
        let status = try await gateway.ctl(["status", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any])?["state"] as? String == "running")
        #expect(try await gateway.ctl(["bogus"]).status == 64)
        let alias = try await gateway.ctl(["quick", "run", "st"])
        #expect(alias.status == 125)
        #expect(alias.standardError == "gatewayctl: /st is an alias of /status, not an exec quick command; run it as a chat message: gatewayctl send /st\n")
        let big = try await gateway.ctl(["quick", "run", "big"])
        #expect(big.status == 0)
        #expect(big.standardOutput.utf8.count == 65536 + 1, "the cap, and print's newline")
        #expect(big.standardError == "gatewayctl: /big's output was cut at exec.max_output; the rest was dropped\n")
    }

    @Test("the Python varlink package speaks to the server: GetInfo, GetStatus, RunQuickCommand",
          .enabled(if: pythonVarlinkAvailable, "python3 with the varlink package (pip install varlink) is needed"))
    func pythonClient() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        let script = """
            import sys, varlink
            with varlink.Client(address="unix:" + sys.argv[1]) as client:
                info = client.get_interfaces()
                print("interfaces", " ".join(sorted(info)))
                with client.open("io.gatewayd.Gateway") as gateway:
                    print("state", gateway.GetStatus()["status"]["state"])
                    result = gateway.RunQuickCommand("hello", None)
                    print("output", result["output"], result["exit_status"])
            """
        let output = try await onThread { try run(["/usr/bin/env", "python3", "-c", script, gateway.socket]) }
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput == "interfaces io.gatewayd.Gateway org.varlink.service\nstate running\noutput hello 0\n")
    }
}

let pythonVarlinkAvailable: Bool = {
    (try? run(["/usr/bin/env", "python3", "-c", "import varlink"]))?.status == 0
}()
