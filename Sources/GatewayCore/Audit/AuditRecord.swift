import GatewayWire

/// One entry of the audit trail: who did what, with which arguments, and how it ended. Written
/// as one journal record (see `AuditJournal` for the fields) for every changing control call and
/// every privileged chat command, refused ones included.
package struct AuditRecord: Sendable, Equatable {
    package var caller: AuditCaller
    /// The control method (`Drain`) or the chat command (`/restart`).
    package var action: String
    /// The call's parameters as JSON text, or the chat command's argument text.
    package var arguments: String
    package var outcome: AuditOutcome

    package init(caller: AuditCaller, action: String, arguments: String, outcome: AuditOutcome) {
        self.caller = caller
        self.action = action
        self.arguments = arguments
        self.outcome = outcome
    }

    /// One line for MESSAGE: `Drain by local:root (uid 0, pid 42, gatewayctl): ok`,
    /// `... failed: <error>`, `Drain refused to local:nobody (...): <reason>`.
    package var message: String {
        let line = switch outcome {
        case .ok: "\(action) by \(caller): ok"
        case .failed(let error): "\(action) by \(caller) failed: \(error)"
        case .denied(let reason): "\(action) refused to \(caller): \(reason)"
        }
        return AuditJournal.oneLine(line)
    }

    /// The journal fields (metadata keys, values capped), the caller's included.
    package var fields: [(String, String)] {
        caller.fields + [
            (AuditJournal.marker, AuditJournal.markerValue),
            (AuditJournal.action, AuditJournal.capped(action)),
            (AuditJournal.arguments, AuditJournal.capped(arguments)),
            (AuditJournal.outcome, AuditJournal.capped(outcome.text)),
        ]
    }
}

/// How an admin action ended.
package enum AuditOutcome: Sendable, Equatable {
    case ok
    /// It was allowed but failed (the error's name and message).
    case failed(String)
    /// The caller may not do it (the reason it was told).
    case denied(String)

    package var text: String {
        switch self {
        case .ok: AuditJournal.ok
        case .failed(let error): AuditJournal.errorPrefix + error
        case .denied(let reason): AuditJournal.deniedPrefix + reason
        }
    }

    package var isDenied: Bool { if case .denied = self { true } else { false } }
}

/// Who asked: the sender's identity as the platform gave it, and for the control socket the
/// peer process the kernel named.
package struct AuditCaller: Sendable, Equatable, CustomStringConvertible {
    /// `local:<unix user>` or the chat identity (`irc:alice`).
    package var identity: String
    package var account: String?
    package var hostmask: String?
    /// `platform:chat` of a chat command; nil for a control call.
    package var chat: String?
    package var peer: AuditPeer?

    package init(identity: String, account: String? = nil, hostmask: String? = nil, chat: String? = nil, peer: AuditPeer? = nil) {
        self.identity = identity
        self.account = account
        self.hostmask = hostmask
        self.chat = chat
        self.peer = peer
    }

    /// A chat message's sender, with what access matched on.
    package init(_ message: InboundMessage) {
        self.init(identity: message.senderID, account: message.account, hostmask: message.hostmask,
                  chat: "\(message.platform):\(message.chat)")
    }

    package var description: String {
        var text = identity
        if let hostmask { text += " (\(hostmask))" }
        if let peer { text += " (uid \(peer.uid), pid \(peer.pid), \(peer.comm))" }
        return text
    }

    var fields: [(String, String)] {
        var fields = [(AuditJournal.caller, AuditJournal.capped(identity))]
        if let account { fields.append((AuditJournal.callerAccount, AuditJournal.capped(account))) }
        if let hostmask { fields.append((AuditJournal.callerHostmask, AuditJournal.capped(hostmask))) }
        if let chat { fields.append((AuditJournal.chat, AuditJournal.capped(chat))) }
        if let peer {
            fields += [(AuditJournal.peerUID, String(peer.uid)), (AuditJournal.peerPID, String(peer.pid)),
                       (AuditJournal.peerComm, AuditJournal.capped(peer.comm))]
        }
        return fields
    }
}

/// A control socket peer: `SO_PEERCRED`'s uid and pid, and the process's command name.
package struct AuditPeer: Sendable, Equatable {
    package var uid: UInt32
    package var pid: Int32
    package var comm: String

    package init(uid: UInt32, pid: Int32, comm: String) {
        self.uid = uid
        self.pid = pid
        self.comm = comm
    }
}

/// Takes audit records as they happen: synchronously, on the caller's executor; must be quick
/// and must not block (gatewayd's writes a journal record through its deferred log handler).
package typealias AuditSink = @Sendable (AuditRecord) -> Void
