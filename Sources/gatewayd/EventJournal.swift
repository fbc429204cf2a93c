import GatewayCore
import GatewayWire
import Logging

/// The journal record of each event: what happened, with `GATEWAY_*` fields to filter on, and a
/// `MESSAGE_ID` for the ones in contrib/gatewayd.catalog. Called by the dispatcher for every
/// event, in order, on its own executor.
struct EventJournal: Sendable {
    let logger: Logger

    func record(_ event: GatewayEvent) {
        switch event {
        case .stateChanged(let state):
            var metadata: Logger.Metadata = ["event": "state", "state": "\(state.name)", "reason": "\(state.reason?.rawValue ?? "")"]
            if case .draining = state { metadata["MESSAGE_ID"] = "\(GatewayMessageID.draining)" }
            logger.notice("state \(state)", metadata: metadata)
        case .drained(let reason):
            logger.info("drained (\(reason.rawValue))", metadata: ["event": "drained", "reason": "\(reason.rawValue)"])
        case .messageDispatched(let session, let route):
            logger.info("message \(route.rawValue)", metadata: ["event": "message", "session": "\(session)", "route": "\(route.rawValue)"])
        case .quickCommandStarted(let name, let session):
            logger.debug("quick command /\(name) started", metadata: ["event": "quick_command_started", "quick_command": "\(name)", "session": "\(session)"])
        case .quickCommandFinished(let report):
            let usec = DurationValue.microseconds(report.duration)
            let outcome = report.timedOut ? "timed out"
                : report.signal.map { "killed by signal \($0)" }
                ?? report.exitStatus.map { "exited with status \($0)" }
                ?? "could not be run: \(report.output)"
            var metadata: Logger.Metadata = [
                "event": "quick_command", "quick_command": "\(report.name)", "session": "\(report.session)",
                "MESSAGE_ID": "\(GatewayMessageID.quickCommand)",
                "exit_status": "\(report.exitStatus.map(String.init) ?? "")", "timed_out": "\(report.timedOut)",
                "duration_usec": "\(usec)",
            ]
            // Its audit record too (GATEWAY_AUDIT=1, the caller): one record per run, not two.
            var by = ""
            if let audit = report.audit {
                for (key, value) in audit.fields { metadata[key] = .string(value) }
                by = AuditJournal.oneLine(" by \(audit.caller)")
            }
            logger.info("quick command /\(report.name) \(outcome)\(by)", metadata: metadata)
        case .delayedReply(let chat, let text):
            logger.info("reply to \(chat.platform):\(chat.chat): \(text)", metadata: [
                "event": "reply", "platform": "\(chat.platform)", "chat": "\(chat.chat)",
            ])
        case .configReloaded, .countersChanged:
            break
        }
    }
}
