import GatewayCore
import Varlink

extension GatewayInterface {
    /// The `QuickCommand` type of the interface.
    static func encode(_ command: GatewayCore.QuickCommand) -> JSONValue {
        var value: [String: JSONValue] = [
            "name": .string(command.name), "args": .string(command.passArguments ? "pass" : "ignore"),
        ]
        switch command.kind {
        case .exec(let text): value["type"] = "exec"; value["command"] = .string(text)
        case .alias(let target): value["type"] = "alias"; value["target"] = .string(target)
        case .invalid: value["type"] = "invalid"
        }
        if let timeout = command.timeout { value["timeout_usec"] = .int(microseconds(timeout)) }
        if let description = command.description { value["description"] = .string(description) }
        return .object(value)
    }

    /// The `Event` type of the interface.
    static func encode(_ event: GatewayEvent) -> JSONValue {
        var value: [String: JSONValue] = [:]
        switch event {
        case .stateChanged(let state):
            value["kind"] = "state"
            value["state"] = .string(state.name)
            if let reason = state.reason { value["reason"] = .string(reason.rawValue) }
        case .countersChanged(let counters):
            value["kind"] = "counters"
            value["turns_in_flight"] = .int(Int64(counters.turnsInFlight))
            value["exec_running"] = .int(Int64(counters.execRunning))
        case .drained(let reason):
            value["kind"] = "drained"
            value["reason"] = .string(reason.rawValue)
        case .messageDispatched(let session, let route):
            value["kind"] = "message"
            value["session"] = .string(session)
            value["route"] = .string(route.rawValue)
        case .quickCommandStarted(let name, let session):
            value["kind"] = "quick_command_started"
            value["name"] = .string(name)
            value["session"] = .string(session)
        case .quickCommandFinished(let report):
            value["kind"] = "quick_command_finished"
            value["name"] = .string(report.name)
            value["session"] = .string(report.session)
            value["timed_out"] = .bool(report.timedOut)
            value["duration_usec"] = .int(microseconds(report.duration))
            if let status = report.exitStatus { value["exit_status"] = .int(Int64(status)) }
            if let signal = report.signal { value["signal"] = .int(Int64(signal)) }
        case .configReloaded:
            value["kind"] = "reloaded"
        case .delayedReply(let chat, let text):
            value["kind"] = "reply"
            value["platform"] = .string(chat.platform)
            value["chat"] = .string(chat.chat)
            value["text"] = .string(text)
        }
        return .object(value)
    }
}
