import GatewayWire
import JSON
import Testing

/// The Swift types of io.gatewayd.Gateway read back what they write, leave nil fields out, and
/// name the field when a value has the wrong shape.
@Suite("GatewayWire types")
struct WireTypesTests {
    static let status = Wire.Status(
        state: "draining", reason: "admin", pid: 42, version: "0.1.0", uptimeUsec: 1_500_000, turnsInFlight: 2, execRunning: 1,
        sessions: 3, platforms: ["local", "irc"],
        platformHealth: [Wire.PlatformHealth(name: "irc", health: "connecting", detail: "registering")], storeProblem: "disk full")

    static func roundTrips<Value: WireField>(_ value: Value) throws -> Bool {
        let bytes = value.wireValue.serialized()
        return try Value(wire: JSONValue.parse(bytes), at: "value") == value
    }

    @Test("every type and every method's parameters and results survive JSON and back")
    func roundTrip() throws {
        let event = Wire.Event.quickCommandFinished(name: "up", session: "local:dm:ops", exitStatus: nil, signal: 9,
                                                    timedOut: true, durationUsec: 7)
        let values: [any WireField] = [
            Self.status, Wire.Session(key: "k", turnRunning: true, queued: 1, turns: 2),
            Wire.QuickCommand(name: "up", type: Wire.QuickCommand.Kind.exec, command: "uptime", args: "pass", timeoutUsec: 5, description: "d"),
            event, Wire.Event.reply(platform: "irc", chat: "#ops", text: "late"), Wire.Event.reloaded,
            Wire.StatusResult(status: Self.status), Wire.Drain.Parameters(timeoutUsec: 3), Wire.Drain.Parameters(),
            Wire.SessionParameters(session: "s"), Wire.StopTurn.Result(stopped: true), Wire.ResetSession.Result(reset: true),
            Wire.ListSessions.Result(sessions: []), Wire.ListQuickCommands.Result(commands: []),
            Wire.RunQuickCommand.Parameters(name: "words", args: ["a", "b c"]),
            Wire.RunQuickCommand.Result(output: "out", exitStatus: 0, signal: nil, timedOut: false, truncated: true, durationUsec: 12),
            Wire.SendMessage.Parameters(text: "hi", chat: "ops", user: nil), Wire.SendMessage.Result(replies: ["a", "b"]),
            Wire.Subscribe.Result(status: Self.status), Wire.Subscribe.Result(event: event), NoFields(),
        ]
        for value in values { #expect(try Self.roundTrips(value), "\(value)") }
    }

    @Test("nil optional fields are left out, as the daemon always sent them")
    func optionalsLeftOut() {
        #expect(Wire.Event.state("running", reason: nil).parameters == ["kind": "state", "state": "running"])
        #expect(Wire.Drain.Parameters().parameters.isEmpty)
        #expect(Wire.Event.counters(turnsInFlight: 1, execRunning: 0).wireValue
            == ["kind": "counters", "turns_in_flight": 1, "exec_running": 0])
    }

    @Test("a missing field, a null for a required one, or a wrong JSON type names the field")
    func decodingErrors() throws {
        var object = Self.status.parameters
        object["platform_health"] = [["name": "irc", "health": 1, "detail": ""]]
        #expect(throws: WireDecodingError(field: "platform_health[0].health", expected: "string")) {
            try Wire.Status(parameters: object)
        }
        object = Self.status.parameters
        object["pid"] = nil
        #expect(throws: WireDecodingError(field: "pid", expected: "int")) { try Wire.Status(parameters: object) }
        object["pid"] = .null
        #expect(throws: WireDecodingError(field: "pid", expected: "int")) { try Wire.Status(parameters: object) }
        #expect(throws: WireDecodingError(field: "args[1]", expected: "string")) {
            try Wire.RunQuickCommand.Parameters(parameters: ["name": "x", "args": ["a", 2]])
        }
        #expect(throws: WireDecodingError(field: "timeout_usec", expected: "int ≥ 0")) {
            try Wire.Drain.Parameters(parameters: ["timeout_usec": -1])
        }
        // Optional fields may be null or missing alike.
        #expect(try Wire.SendMessage.Parameters(parameters: ["text": "hi", "chat": .null]) == Wire.SendMessage.Parameters(text: "hi"))
    }

    @Test("declared errors: name and parameters both ways; other names are not theirs")
    func failures() throws {
        let failures: [Wire.Failure] = [
            .noSuchQuickCommand(name: "x"), .quickCommandFailed(name: "x", message: "busy"), .noSuchSession(key: "k"),
            .configInvalid(message: "bad"), .platformDisabled(platform: "local", message: "off"), .internalError(message: "oops"),
            .stopping(reason: "restart", message: "later"),
        ]
        for failure in failures {
            #expect(failure.name.hasPrefix(Wire.interface + "."))
            #expect(try Wire.Failure(name: failure.name, parameters: failure.parameters) == failure)
        }
        #expect(try Wire.Failure(name: "org.varlink.service.PermissionDenied", parameters: [:]) == nil)
        #expect(throws: WireDecodingError(field: "key", expected: "string")) {
            try Wire.Failure(name: Wire.Failure.Name.noSuchSession, parameters: [:])
        }
    }

    @Test("every method has its wire name and whether it changes the gateway")
    func methods() {
        #expect(Wire.Method.getStatus.qualified == "io.gatewayd.Gateway.GetStatus")
        #expect(Wire.Method.allCases.filter { !$0.changesState } == [.getStatus, .listSessions, .listQuickCommands, .subscribe, .getMetrics])
        #expect(Wire.RunQuickCommand.method == .runQuickCommand && Wire.Subscribe.method == .subscribe)
    }
}
