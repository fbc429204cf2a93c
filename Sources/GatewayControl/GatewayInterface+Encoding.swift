import GatewayCore
import GatewayWire

/// The daemon's values as the interface's types.
extension GatewayInterface {
    static func wire(_ command: GatewayCore.QuickCommand) -> Wire.QuickCommand {
        var value = Wire.QuickCommand(name: command.name, type: Wire.QuickCommand.Kind.invalid, args: command.passArguments ? "pass" : "ignore",
                                      timeoutUsec: command.timeout.map(microseconds), description: command.description)
        switch command.kind {
        case .exec(let text): value.type = Wire.QuickCommand.Kind.exec; value.command = text
        case .alias(let target): value.type = Wire.QuickCommand.Kind.alias; value.target = target
        case .invalid: break
        }
        return value
    }

    static func wire(_ event: GatewayEvent) -> Wire.Event {
        switch event {
        case .stateChanged(let state): .state(state.name, reason: state.reason?.rawValue)
        case .countersChanged(let counters): .counters(turnsInFlight: counters.turnsInFlight, execRunning: counters.execRunning)
        case .drained(let reason): .drained(reason: reason.rawValue)
        case .messageDispatched(let session, let route): .message(session: session, route: route.rawValue)
        case .quickCommandStarted(let name, let session): .quickCommandStarted(name: name, session: session)
        case .quickCommandFinished(let report):
            .quickCommandFinished(name: report.name, session: report.session, exitStatus: report.exitStatus.map(Int.init),
                                  signal: report.signal.map(Int.init), timedOut: report.timedOut,
                                  durationUsec: microseconds(report.duration))
        case .configReloaded: .reloaded
        case .delayedReply(let chat, let text): .reply(platform: chat.platform, chat: chat.chat, text: text)
        }
    }

    static func microseconds(_ duration: Duration) -> Int { Int(DurationValue.microseconds(duration)) }
}
