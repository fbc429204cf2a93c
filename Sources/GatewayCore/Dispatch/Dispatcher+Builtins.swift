/// The built-in commands. A built-in always wins over a quick command of the same name.
enum BuiltinCommand: String, CaseIterable {
    case help, commands, status, whoami, stop, new, reset, queue, restart

    /// Answers in every state, draining and mid-turn included (it needs no agent).
    var needsNoAgent: Bool {
        switch self {
        case .help, .commands, .status, .whoami, .stop: true
        case .new, .reset, .queue, .restart: false
        }
    }

    /// Changes the gateway or stops someone's work: each use is an audit record.
    var isAudited: Bool { self == .restart || self == .stop }

    var summary: String {
        switch self {
        case .help: "this help"
        case .commands: "built-in and quick commands"
        case .status: "the gateway and this session"
        case .whoami: "who you are here and what you may run"
        case .stop: "stop the running turn"
        case .new: "start a fresh session"
        case .reset: "same as /new"
        case .queue: "queue a prompt as its own turn"
        case .restart: "drain, then restart the gateway (admins)"
        }
    }
}

extension Dispatcher {
    func runBuiltin(_ builtin: BuiltinCommand, _ command: ParsedCommand, _ message: InboundMessage,
                    _ replies: any ReplySink) async {
        let key = message.sessionKey
        if !builtin.needsNoAgent && lifecycle.state.refusesNewWork {
            let reply = builtin == .restart && lifecycle.state.reason == .restart
                ? GatewayText.restartInProgress
                : GatewayText.draining(lifecycle.state.reason?.gerund ?? "draining")
            if builtin.isAudited { audit(Self.auditRecord(builtin, command, message, .failed(reply))) }
            await replies.send(reply)
            return
        }
        switch builtin {
        case .help:
            await replies.send(helpText())
        case .commands:
            await replies.send(commandsText())
        case .status:
            await replies.send(statusText(for: key))
        case .whoami:
            let admin = access.isAdmin(message)
            await replies.send("You are \(message.senderID)"
                + (admin ? " (admin: exec quick commands and /restart)." : "."))
        case .stop:
            if let turn = sessions.turn(key) {
                turn.task.cancel()
                store?.markDone(sessions.clearPending(key, now: clock.now()).flatMap(\.storeIDs))
                syncSessionCounters()
                audit(Self.auditRecord(builtin, command, message, .ok))
                await replies.send(GatewayText.stopped)
            } else {
                audit(Self.auditRecord(builtin, command, message, .ok))
                await replies.send(GatewayText.nothingToStop)
            }
        case .new, .reset:
            if sessions.turn(key) != nil {
                await replies.send(GatewayText.agentRunning(builtin.rawValue))
                return
            }
            sessions.reset(key, now: clock.now())
            store?.forgetSession(key)
            syncSessionCounters()
            await replies.send(GatewayText.sessionReset)
        case .queue:
            guard !command.argumentText.isEmpty else {
                await replies.send(GatewayText.queueUsage)
                return
            }
            var queuedMessage = message
            queuedMessage.text = command.argumentText
            await submitTurn(queuedMessage, replies, explicitQueue: true, counted: true)
        case .restart:
            guard access.isAdmin(message) else {
                let reply = GatewayText.adminOnly(builtin.rawValue)
                audit(Self.auditRecord(builtin, command, message, .denied(reply)))
                await replies.send(reply)
                return
            }
            audit(Self.auditRecord(builtin, command, message, .ok))
            let turns = counters.turnsInFlight
            // Remembered before the reply, so "restarted successfully" reaches this chat afterwards.
            do {
                try await store?.addRestartNotice(ChatAddress(replyingTo: message))
            } catch {
                publish(.messageDispatched(session: key, route: .storeFailed))
            }
            await replies.send(turns > 0 ? GatewayText.drainingBeforeRestart(turns) : GatewayText.restarting)
            beginDrain(.restart)
        }
    }

    /// The audit record of a privileged built-in (`isAudited`).
    static func auditRecord(_ builtin: BuiltinCommand, _ command: ParsedCommand, _ message: InboundMessage,
                            _ outcome: AuditOutcome) -> AuditRecord {
        AuditRecord(caller: AuditCaller(message), action: "/\(builtin.rawValue)", arguments: command.argumentText, outcome: outcome)
    }

    func helpText() -> String {
        var lines = ["gatewayd \(GatewayConstants.version). Commands:"]
        for builtin in BuiltinCommand.allCases { lines.append("/\(builtin.rawValue) — \(builtin.summary)") }
        lines.append("Anything else goes to the agent. /commands also lists this gateway's quick commands.")
        return lines.joined(separator: "\n")
    }

    func commandsText() -> String {
        var lines = ["Built-in: " + BuiltinCommand.allCases.map { "/\($0.rawValue)" }.joined(separator: " ")]
        let quick = quickCommands()
        if quick.isEmpty {
            lines.append("Quick commands: none configured.")
        } else {
            lines.append("Quick commands:")
            for command in quick {
                let kind: String
                switch command.kind {
                case .exec: kind = "runs on the host"
                case .alias(let target): kind = "→ \(target)"
                case .invalid: kind = "misconfigured"
                }
                lines.append("/\(command.name) — \(command.description ?? kind)")
            }
        }
        return lines.joined(separator: "\n")
    }

    func statusText(for key: String) -> String {
        let session = sessions[key]
        let turn = session?.turn != nil ? "turn running" : "idle"
        return """
            gatewayd \(GatewayConstants.version): \(lifecycle.state)
            This session (\(key)): \(turn), \(session?.pending.count ?? 0) queued, \(session?.turnCount ?? 0) turns
            Gateway: \(counters.turnsInFlight) turns, \(counters.execRunning) exec, \(counters.sessions) sessions
            """
    }
}
