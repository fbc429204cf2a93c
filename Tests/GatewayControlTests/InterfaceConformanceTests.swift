import Foundation
@testable import GatewayControl
import GatewayCore
import GatewayTestSupport
import GatewayWire
import JSON
import NIOConcurrencyHelpers
import Testing
import Varlink
import VarlinkClient
import VarlinkProtocol

/// Every call made through it, with its reply (or replies, for a stream).
final class CallLog: Sendable {
    let entries = NIOLockedValueBox<[(method: String, reply: VarlinkReply)]>([])

    func record(_ method: String, _ reply: VarlinkReply) { entries.withLockedValue { $0.append((method, reply)) } }
}

/// What the server sent, against the interface files: io.gatewayd.Gateway.varlink as it is on
/// disk, and org.varlink.service as the server describes it.
struct InterfaceChecker {
    let gateway: VarlinkIDL
    let service: VarlinkIDL

    /// Fields the gateway adds to a standard error, as its interface file's header says.
    static let serviceErrorExtensions = ["PermissionDenied": [VarlinkIDL.Field(name: "message", type: .string)]]

    func idl(_ interface: Substring) -> VarlinkIDL? {
        interface == gateway.name ? gateway : interface == service.name ? service : nil
    }

    /// The problems of one reply to `method` (qualified).
    func problems(_ method: String, _ reply: VarlinkReply) -> [String] {
        let (interface, member) = Self.split(method)
        if let error = reply.error {
            let (errorInterface, errorName) = Self.split(error)
            guard let declared = idl(errorInterface)?.errors[String(errorName)] else { return ["\(method): error \(error) is not declared"] }
            let fields = declared + (errorInterface == service.name ? Self.serviceErrorExtensions[String(errorName)] ?? [] : [])
            return gateway.problems(reply.parameters, as: fields, at: "\(member) → \(errorName)")
        }
        guard let declared = idl(interface)?.methods[String(member)] else { return ["\(method): not a declared method, yet it answered"] }
        return (idl(interface) ?? gateway).problems(reply.parameters, as: declared.output, at: String(member))
    }

    static func split(_ name: String) -> (Substring, Substring) {
        let dot = name.lastIndex(of: ".") ?? name.startIndex
        return (name[..<dot], name[name.index(after: dot)...])
    }
}

@Suite("io.gatewayd.Gateway conformance", .timeLimit(.minutes(1)))
struct InterfaceConformanceTests {
    static let interfaceFile = TestPaths.packageRoot + "/Sources/GatewayControl/io.gatewayd.Gateway.varlink"
    static let eventKinds: Set = ["state", "counters", "drained", "message", "quick_command_started", "quick_command_finished",
                                  "reloaded", "reply"]

    /// One call on a fresh connection, logged; `each` sees the replies of a stream (return false to stop).
    static func call(_ socket: String, _ method: String, _ parameters: [String: JSONValue] = [:], more: Bool = false,
                     log: CallLog, each: @escaping @Sendable (VarlinkReply) -> Bool = { _ in true }) async throws {
        try await onThread {
            let connection = try VarlinkConnection(path: socket, timeout: .seconds(30))
            try connection.send(VarlinkCall(method: method, parameters: parameters, more: more))
            while true {
                let reply = try connection.receive()
                log.record(method, reply)
                guard reply.continues, each(reply) else { return }
            }
        }
    }

    @Test("every reply and every Subscribe event the server sends, for every method and error, is what io.gatewayd.Gateway.varlink says")
    func everyReplyMatchesTheInterfaceFile() async throws {
        let gatewayIDL = try VarlinkIDL(String(contentsOfFile: Self.interfaceFile, encoding: .utf8))
        let gateway = try await Gateway.start(yaml: Gateway.yaml + "\nexec: {max_concurrent: 1}\n")
        defer { Task { await gateway.stop() } }
        let socket = gateway.socket, log = CallLog()
        func call(_ method: Wire.Method, _ parameters: [String: JSONValue] = [:], more: Bool = false) async throws {
            try await Self.call(socket, method.qualified, parameters, more: more, log: log)
        }

        // The standard interface, as this server describes it.
        try await Self.call(socket, "org.varlink.service.GetInterfaceDescription", ["interface": "org.varlink.service"], log: log)
        let serviceText = log.entries.withLockedValue { $0.last?.reply.parameters["description"]?.string } ?? ""
        let checker = InterfaceChecker(gateway: gatewayIDL, service: try VarlinkIDL(serviceText))
        try await Self.call(socket, "org.varlink.service.GetInfo", log: log)
        try await Self.call(socket, "org.varlink.service.GetInterfaceDescription", ["interface": "io.gatewayd.Gateway"], log: log)
        try await Self.call(socket, "org.varlink.service.GetInterfaceDescription", ["interface": "no.such.Interface"], log: log)
        try await Self.call(socket, "no.such.Interface.Call", log: log)

        // A subscriber for the whole run; it stops at the last event, a late reply.
        let subscribed = FIFOSignal()
        let subscriber = Task {
            try await Self.call(socket, Wire.Method.subscribe.qualified, more: true, log: log) { reply in
                if reply.parameters["status"] != nil { subscribed.send("subscribed") }
                return reply.parameters["event"]?.object?["text"] != "the end"
            }
        }
        #expect(await subscribed.waitForLine() == "subscribed")

        try await call(.getStatus)
        try await call(.listQuickCommands)
        try await call(.listSessions)
        try await call(.sendMessage, ["text": "hi", "chat": "ops"])
        try await call(.sendMessage, ["text": 5])
        try await call(.listSessions)
        try await call(.stopTurn, ["session": "local:dm:ops"])
        try await call(.resetSession, ["session": "local:dm:ops"])
        try await call(.resetSession, ["session": "local:dm:ops"])
        for name in ["hello", "fail", "slow", "nope"] { try await call(.runQuickCommand, ["name": .string(name)]) }
        try await call(.runQuickCommand, ["name": "words", "args": ["a", "b"]])
        try await call(.runQuickCommand, ["name": 5])
        try await call(.subscribe)
        try await call(.getMetrics)
        try await Self.call(socket, "io.gatewayd.Gateway.NoSuchMethod", log: log)

        // One exec command held in flight (max_concurrent 1): a second is refused as busy, and a
        // drain with more reports until it is over.
        let gate = gateway.directory + "/gate"
        mkfifo(gate, 0o600)
        let gateFD = open(gate, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        defer { close(gateFD) }
        let events = await gateway.dispatcher.subscribe()
        async let held: Void = call(.runQuickCommand, ["name": "held"])
        for await event in events { if case .quickCommandStarted = event { break } }
        try await call(.runQuickCommand, ["name": "hello"])
        try await Self.call(socket, Wire.Method.drain.qualified, more: true, log: log) { _ in
            _ = write(gateFD, "go\n", 3)
            return true
        }
        try await held
        try await call(.resume)
        try await call(.drain, ["timeout_usec": 5_000_000])
        try await call(.resume)

        try await call(.reload)
        try gateway.writeConfig("quick_commands: {x: {type: exec, command: 'echo x', timeout: soon}}")
        try await call(.reload)
        try gateway.writeConfig(Gateway.yaml)
        try await call(.restart)
        await gateway.dispatcher.announceLateReply("the end", to: ChatAddress(platform: "local", chat: "ops"))
        try await subscriber.value
        // The restart's drain over: the gateway is stopping and takes no command or message.
        await gateway.dispatcher.waitUntilDrained()
        await gateway.dispatcher.markStopping()
        try await call(.runQuickCommand, ["name": "hello"])
        try await call(.sendMessage, ["text": "hi"])

        // A gateway whose local platform is off, then with permissions that refuse this process.
        let other = try await Gateway.start(yaml: "platforms: {local: {enabled: false}}\n" + Gateway.yaml)
        defer { Task { await other.stop() } }
        try await Self.call(other.socket, Wire.Method.sendMessage.qualified, ["text": "hi"], log: log)
        let daemon: Int32 = 999_999
        other.interface.replacePermissions(ControlPermissions(
            daemonUID: getuid(), adminGroupID: nil,
            lineage: ProcessLineage(daemonPID: daemon, serviceCgroup: nil, parentOf: { $0 == daemon ? 1 : daemon }, cgroupOf: { _ in nil })))
        try await Self.call(other.socket, Wire.Method.drain.qualified, log: log)

        // What nothing should throw becomes InternalError (no server path leads there on purpose).
        struct Unexpected: Error { let secret = ["internal": 42] }
        log.record(Wire.Method.getStatus.qualified, gateway.interface.errorReply(Unexpected(), method: .getStatus))

        let entries = log.entries.withLockedValue { $0 }
        let problems = entries.flatMap { checker.problems($0.method, $0.reply) }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

        let gatewayReplies = entries.filter { $0.method.hasPrefix(gatewayIDL.name + ".") }
        let answered = Set(gatewayReplies.filter { $0.reply.error == nil }.map { String(InterfaceChecker.split($0.method).1) })
        #expect(answered == Set(gatewayIDL.methods.keys), "methods answered without an error")
        let errors = Set(entries.compactMap(\.reply.error))
        let declared = Set(gatewayIDL.errors.keys.map { "\(gatewayIDL.name).\($0)" })
        #expect(declared.subtracting(errors).isEmpty, "declared errors never sent: \(declared.subtracting(errors).sorted())")
        for standard in ["InvalidParameter", "MethodNotFound", "InterfaceNotFound", "ExpectedMore", "PermissionDenied"] {
            #expect(errors.contains("org.varlink.service.\(standard)"), "\(standard)")
        }
        let kinds = Set(entries.compactMap { $0.reply.parameters["event"]?.object?["kind"]?.string })
        #expect(kinds == Self.eventKinds, "event kinds seen")
        let unexpected = entries.last?.reply
        #expect(unexpected?.parameters["message"]?.string == GatewayText.controlCallFailed("GetStatus"), "a message for a person, no dump")
    }

    /// What is wrong with `value` (every optional field set) as the IDL's `fields`: a field it
    /// does not write, one of the wrong JSON type, and optionality that differs when decoding.
    static func mismatches<Value: WireObject>(_ value: Value, _ fields: [VarlinkIDL.Field], _ name: String, _ idl: VarlinkIDL) -> [String] {
        let written = value.parameters
        var problems = idl.problems(written, as: fields, at: name)
        for field in fields {
            guard written[field.name] != nil else {
                problems.append("\(name).\(field.name): never written")
                continue
            }
            var without = written
            without[field.name] = nil
            let decodes = (try? Value(parameters: without)) != nil
            if case .optional = field.type, !decodes { problems.append("\(name).\(field.name): optional, but required to decode") }
            if !(field.type.description.hasPrefix("?")) && decodes { problems.append("\(name).\(field.name): required, but decodes without it") }
        }
        return problems
    }

    @Test("GatewayWire's Swift types have the IDL's fields, optionality and JSON types: every type, every method's parameters and results")
    func swiftTypesMatchTheInterfaceFile() throws {
        let idl = try VarlinkIDL(String(contentsOfFile: Self.interfaceFile, encoding: .utf8))
        let health = Wire.PlatformHealth(name: "irc", health: "up", detail: "connected")
        var status = Wire.Status(state: "draining", reason: "admin", pid: 1, version: "v", uptimeUsec: 2, turnsInFlight: 3, execRunning: 4,
                                 sessions: 5, platforms: ["local"], platformHealth: [health], storeProblem: "full")
        status.configRevision = "0123456789ab"; status.configLoadedUsec = 1; status.restartNeeded = ["state_dir"]
        let endpoint = Wire.AgentEndpoint(baseURL: "http://x/v1", model: "m", breaker: "open", consecutiveFailures: 5,
                                          lastError: "e", lastErrorUsec: 1)
        status.agentBackend = "openai"; status.agentEndpoints = [endpoint]
        let change = Wire.ConfigChange(section: "quick_commands", summary: "added up", applies: Wire.ConfigChange.Applies.live)
        let problem = Wire.ConfigProblem(severity: "warning", path: "access.admins", line: 3, message: "m")
        let session = Wire.Session(key: "k", turnRunning: true, queued: 1, turns: 2, tokensIn: 3, tokensOut: 4)
        let command = Wire.QuickCommand(name: "n", type: "exec", command: "c", target: "t", args: "pass", timeoutUsec: 1, description: "d")
        var event = Wire.Event.quickCommandFinished(name: "n", session: "s", exitStatus: 0, signal: 9, timedOut: false, durationUsec: 1)
        event.state = "running"; event.reason = "stop"; event.route = "exec"; event.turnsInFlight = 1; event.execRunning = 0
        event.platform = "irc"; event.chat = "#ops"; event.text = "t"
        func type(_ name: String) -> [VarlinkIDL.Field] {
            guard case .structure(let fields)? = idl.types[name] else { return [] }
            return fields
        }
        var problems = Self.mismatches(status, type("Status"), "Status", idl) + Self.mismatches(health, type("PlatformHealth"), "PlatformHealth", idl)
            + Self.mismatches(session, type("Session"), "Session", idl) + Self.mismatches(command, type("QuickCommand"), "QuickCommand", idl)
            + Self.mismatches(event, type("Event"), "Event", idl) + Self.mismatches(endpoint, type("AgentEndpoint"), "AgentEndpoint", idl)
            + Self.mismatches(change, type("ConfigChange"), "ConfigChange", idl) + Self.mismatches(problem, type("ConfigProblem"), "ConfigProblem", idl)
        let metricSample = Wire.MetricSample(suffix: "_total", labels: [("platform", "irc")], value: 1.5)
        let metric = Wire.Metric(name: "gatewayd_messages", type: .counter, help: "h", samples: [metricSample])
        problems += Self.mismatches(metricSample, type("MetricSample"), "MetricSample", idl) + Self.mismatches(metric, type("Metric"), "Metric", idl)

        func method<M: WireMethod>(_ method: M.Type, _ parameters: M.Parameters, _ result: M.Result) {
            guard let declared = idl.methods[M.method.rawValue] else { return problems.append("\(M.method.rawValue): not in the IDL") }
            problems += Self.mismatches(parameters, declared.input, "\(M.method.rawValue)(…)", idl)
            problems += Self.mismatches(result, declared.output, "\(M.method.rawValue) → (…)", idl)
        }
        let statusResult = Wire.StatusResult(status: status)
        method(Wire.GetStatus.self, NoFields(), statusResult)
        method(Wire.Drain.self, Wire.Drain.Parameters(timeoutUsec: 1), statusResult)
        method(Wire.Resume.self, NoFields(), statusResult)
        method(Wire.Reload.self, Wire.Reload.Parameters(check: true, configText: "t"),
               Wire.Reload.Result(status: status, applied: false, revision: "r", changes: [change], problems: [problem]))
        method(Wire.Restart.self, NoFields(), statusResult)
        method(Wire.ListSessions.self, NoFields(), Wire.ListSessions.Result(sessions: [session]))
        method(Wire.StopTurn.self, Wire.SessionParameters(session: "s"), Wire.StopTurn.Result(stopped: true))
        method(Wire.ResetSession.self, Wire.SessionParameters(session: "s"), Wire.ResetSession.Result(reset: true))
        method(Wire.ListQuickCommands.self, NoFields(), Wire.ListQuickCommands.Result(commands: [command]))
        method(Wire.RunQuickCommand.self, Wire.RunQuickCommand.Parameters(name: "n", args: ["a"]),
               Wire.RunQuickCommand.Result(output: "o", exitStatus: 0, signal: 1, timedOut: false, truncated: false, durationUsec: 1))
        method(Wire.SendMessage.self, Wire.SendMessage.Parameters(text: "t", chat: "c", user: "u"), Wire.SendMessage.Result(replies: ["r"]))
        method(Wire.Subscribe.self, NoFields(), Wire.Subscribe.Result(status: status, event: event))
        method(Wire.GetMetrics.self, NoFields(), Wire.GetMetrics.Result(metrics: [metric]))
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

        let failures: [Wire.Failure] = [
            .noSuchQuickCommand(name: "n"), .quickCommandFailed(name: "n", message: "m"), .noSuchSession(key: "k"),
            .configInvalid(message: "m", problems: [problem]), .platformDisabled(platform: "p", message: "m"), .internalError(message: "m"),
            .stopping(reason: "stop", message: "m"),
        ]
        #expect(Set(failures.map(\.name)) == Set(idl.errors.keys.map { "\(idl.name).\($0)" }))
        for failure in failures {
            let declared = idl.errors[String(InterfaceChecker.split(failure.name).1)] ?? []
            #expect(idl.problems(failure.parameters, as: declared, at: failure.name).isEmpty)
            #expect(Set(failure.parameters.keys) == Set(declared.map(\.name)), "\(failure.name)")
        }
    }

    @Test("the IDL reader sees the interface: every type, method and error, and the drift it exists to catch")
    func idlReader() throws {
        let idl = try VarlinkIDL(String(contentsOfFile: Self.interfaceFile, encoding: .utf8))
        #expect(idl.name == Wire.interface)
        #expect(Set(idl.methods.keys) == Set(Wire.Method.allCases.map(\.rawValue)))
        #expect(Set(idl.types.keys) == ["Status", "PlatformHealth", "Session", "QuickCommand", "Event", "ConfigChange", "ConfigProblem",
                                        "AgentEndpoint", "MetricSample", "Metric"])
        let reply: JSONValue = ["kind": "reply", "platform": "local", "chat": "ops", "text": "hi"]
        #expect(idl.problems(reply, as: .named("Event"), at: "event").isEmpty)
        let old = try VarlinkIDL("interface x.Y\ntype Event (kind: string, state: ?string)\nmethod M() -> (event: ?Event)")
        #expect(old.problems(reply, as: .named("Event"), at: "event") == [
            "event.chat: not declared", "event.platform: not declared", "event.text: not declared"])
        #expect(old.problems(["state": "x"], as: .named("Event"), at: "e") == ["e.kind: missing, but string is not optional"])
    }
}
