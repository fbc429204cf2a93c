/// Every user-facing reply, in one place. Wording marked *(fixed)* is what users of the reference
/// gateway already know (docs/DESIGN.md); change it only together with its tests.
package enum GatewayText {
    // Quick commands (fixed).
    package static let noOutput = "Command returned no output."
    package static func timedOut(seconds: Int) -> String { "Quick command timed out (\(seconds)s)." }
    package static func quickCommandError(_ reason: String) -> String { "Quick command error: \(reason)" }
    package static func noCommandDefined(_ name: String) -> String { "Quick command '/\(name)' has no command defined." }
    package static func noTargetDefined(_ name: String) -> String { "Quick command '/\(name)' has no target defined." }
    package static func unsupportedType(_ name: String) -> String {
        "Quick command '/\(name)' has unsupported type (supported: 'exec', 'alias')."
    }
    package static func unknownCommand(_ name: String) -> String {
        "Unknown command `/\(name)`. Type /commands to see what's available, or resend without the leading slash to send as a regular message."
    }
    package static func outputTruncated(limit: Int) -> String { "… (output truncated at \(limit) bytes)" }
    package static func execBusy(limit: Int) -> String {
        "⏳ \(limit) quick commands are already running; try again in a moment."
    }
    package static func aliasLoop(_ chain: [String]) -> String {
        "Quick command alias loop: " + chain.map { "/\($0)" }.joined(separator: " → ")
            + " (more than \(GatewayConstants.maxAliasRewrites) rewrites)."
    }

    // Draining (fixed).
    package static func draining(_ gerund: String) -> String {
        "⏳ Gateway is \(gerund) and is not accepting new work right now."
    }
    package static func interruptedByDrain(restart: Bool) -> String {
        restart
            ? "⚠️ Gateway restarting — Your current task will be interrupted. Send any message after restart and I'll try to resume where you left off."
            : "⚠️ Gateway shutting down — Your current task will be interrupted."
    }

    // Busy guard (reference wording).
    package static let interruptingAck = "⚡ Interrupting current task. I'll respond to your message shortly."
    package static let queuedAck = "⏳ Queued for the next turn. I'll respond once the current task finishes."
    package static func agentRunning(_ name: String) -> String {
        "⏳ Agent is running — `/\(name)` can't run mid-turn. Wait for the current response or `/stop` first."
    }

    // Built-ins.
    package static let stopped = "⚡ Stopped. You can continue this session."
    package static let nothingToStop = "No active task to stop."
    package static let sessionReset = "✨ Session reset. Starting fresh."
    package static let queueUsage = "Usage: /queue <prompt>"
    package static func queued(count: Int) -> String {
        count <= 1 ? "Queued for the next turn." : "Queued for the next turn. (\(count) queued)"
    }
    package static let restartInProgress = "⏳ Gateway restart already in progress..."
    package static func drainingBeforeRestart(_ turns: Int) -> String { "⏳ Draining \(turns) active agent(s) before restart..." }
    package static let restarting = "♻ Restarting gateway."
    package static func adminOnly(_ name: String) -> String { "⛔ /\(name) is admin-only here. Use /whoami to see what you may run." }
    /// The last line of an IRC reply cut short by the outgoing queue's caps.
    package static func ircLinesDropped(_ count: Int) -> String {
        "… \(count) more line(s) not sent: too much is waiting to go out on IRC."
    }
    package static let notAllowed = "⛔ You are not allowed to use this gateway. Ask its operator to add you to access.allowed_users."

    // Agent turns.
    package static func agentTimedOut(seconds: Int) -> String { "⏱ The agent did not answer within \(seconds)s; the turn was stopped." }
    package static func agentFailed(_ reason: String) -> String { "⚠️ The agent failed: \(reason)" }
    /// After an answer the server ended at `agent.openai.max_tokens` (`finish_reason: length`).
    package static let answerCutAtMaxTokens = "✂️ (the answer stopped at agent.openai.max_tokens)"

    // Durable queue and restarts.
    /// A busy session's message during a restart drain (reference wording; here it is true).
    package static let queuedForRestart = "⏳ Gateway restarting — queued for the next turn after it comes back."
    package static let restartedSuccessfully = "♻ Gateway restarted successfully. Your session continues."
    package static func notStored(_ reason: String) -> String {
        "⚠️ Your message was not taken: \(reason). Nothing was queued; send it again later. Quick commands still work."
    }
    package static func abandoned(_ reason: AbandonReason, text: String, attempts: Int) -> String {
        let preview = text.count > 60 ? text.prefix(60) + "…" : text
        switch reason {
        case .interruptedAgain:
            return "⚠️ Your message was interrupted by gateway restarts \(attempts) times and will not be retried: “\(preview)”. Send it again if you still need it."
        case .parked:
            return "⚠️ Your message was in progress across \(attempts) gateway restarts and was set aside (it may be what brings the gateway down): “\(preview)”. Send it again to retry."
        }
    }
}

extension GatewayText {
    // The control socket (varlink error messages and the daemon's log lines).

    /// Why a changing control method is refused to a process gatewayd started.
    package static func startedByGateway(_ why: String) -> String {
        "a process started by gatewayd may not steer it (\(why)); run gatewayctl from a login shell or another service"
    }
    package static let webhookAdminsReadableSecret =
        "webhook senders are admins, and every process gatewayd starts (quick commands, the agent) runs as its user and can read platforms.webhook.secret_file: it can sign a delivery in an admin's name and run any quick command or /restart. Keep webhook senders out of admins unless you trust every quick command and the agent"
    package static let daemonUserUnverifiable =
        "gatewayd's own user is refused where the kernel cannot name the calling process (SO_PEERPIDFD, Linux 6.5 and later): its own children run as that user; use root or a member of control.admin_group"
    package static func notAnAdmin(uid: UInt32, adminGroup: String?) -> String {
        "uid \(uid) is not root, gatewayd's user" + (adminGroup.map { " or a member of \($0)" } ?? " (and control.admin_group is not set)")
    }
    package static func adminGroupUnknown(_ name: String) -> String {
        "control.admin_group: there is no group named '\(name)'; only root and gatewayd's own user may use the changing control methods"
    }
    /// The socket's group could not be set (at start, or to a reloaded admin_group).
    package static func socketGroupNotApplied(path: String, group: String, mode: UInt32, reason: String, onReload: Bool) -> String {
        "control socket \(path): cannot give it group \(group) (\(reason)): gatewayd's user must be a member of \(group), "
            + "or let gatewayd.socket create the socket (SocketGroup=\(group)); "
            + (onReload ? "it keeps its previous group" : "serving with mode " + String(mode, radix: 8) + " and gatewayd's own group")
            + ", so members of \(group) cannot connect"
    }
    package static let localPlatformDisabled = "the local platform is disabled (platforms.local.enabled: false)"
    /// The control socket's `RunQuickCommand` and `SendMessage` once the drain is over.
    package static func stoppingRefusal(_ reason: DrainReason) -> String {
        reason == .restart
            ? "the gateway is restarting and takes no new commands or messages; try again once it is back"
            : "the gateway is shutting down and takes no new commands or messages"
    }
    /// `InternalError`: a control call failed in a way the gateway did not expect.
    package static func controlCallFailed(_ method: String) -> String {
        "\(method) failed unexpectedly; the gateway's journal has the details"
    }

    /// Keys a reload read but kept at their old values (STATUS=, the journal, gatewayctl).
    /// A reload asked for while the gateway stops or restarts: refused (the file is read again
    /// at the next start anyway).
    package static func reloadWhileStopping(_ gerund: String) -> String {
        "the gateway is \(gerund): nothing was reloaded (the next start reads the file)"
    }

    /// A reload's platform start that met the shutdown.
    package static let platformNotStartedStopping = "not started: the gateway is stopping"

    /// `gatewayctl reload --check --config FILE` by an admin-group member.
    package static let checkedTextNeedsDaemonUser =
        "checking another file makes gatewayd read the files it names (secrets, certificates) as its own user, so only root and "
        + "gatewayd's user may; check it as yourself with: gatewayd --check-config --config FILE"

    /// A reload that finds the file without a YAML document.
    package static let reloadEmptyFile =
        "the file holds no settings (empty, or only comments; perhaps caught while being written): the running configuration "
        + "stays. To run with no file at all, remove it and restart"

    /// A platform a reload replaces, between its old adapter's stop and its new one's start.
    package static let platformBeingReplaced = "reconnecting with the new settings of a reload"

    /// Telegram's health while `getUpdates` answers 409 Conflict.
    package static let telegramConflict = "conflict: another process polls this bot token"

    /// Matrix's health while the homeserver refuses the access token (`M_UNKNOWN_TOKEN`, 401).
    package static let matrixUnknownToken = "the homeserver refused the access token (revoked, expired, or another server's): write a new one to access_token_file and reload"

    /// Matrix's health while the homeserver refuses `password_file`'s login.
    package static let matrixLoginRefused = "the homeserver refused the password login of user_id: check password_file, or the account"

    /// The journal line for a Matrix room that is end-to-end encrypted (once per room).
    package static let matrixEncryptedRoom = "is end-to-end encrypted, which gatewayd does not support: its messages are not answered (use an unencrypted room)"

    /// Before a reply sent again after a restart that may have reached the chat the first time
    /// (its platform may have taken it before the process ended).
    package static let possibleRepeat = "(sent again after a restart; it may be a repeat) "
}
