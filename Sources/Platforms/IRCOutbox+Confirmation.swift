import GatewayCore

/// Whether a private reply still reaches the person who asked: what the connection saw of the
/// nick since their message (NICK, QUIT, ACCOUNT), and WHOIS where that is not enough.
extension IRCOutbox {
    /// Whether a line may go to its target now. Channel lines always may. A private reply:
    /// never when the recipient has no identity to confirm, nor once the nick was seen changing
    /// hands since the message. Without a WHOIS only when it follows its message at once
    /// (within `unconfirmedReplyWindow`, on the same connection, no change of the nick seen) and
    /// is not an admin's: the gateway sees NICK and QUIT only from people who share a channel
    /// with it, so after a turn of the agent or a slow command the nick may have passed to
    /// someone else unseen. Everything else (late replies, admins', replies to messages an
    /// earlier process took) waits for a WHOIS that shows the same person: the same account
    /// when the message had one, else the same `nick!user@host`.
    func admit(_ line: IRCQueuedLine, _ lane: IRCLane, _ state: inout State, now: ContinuousClock.Instant) -> IRCLineQueue.Admission {
        guard let recipient = line.recipient else { return .send }
        if recipient.refused { return .drop }
        guard recipient.isConfirmable else {
            recipient.refused = true
            return .drop
        }
        let knowledge: IRCDepartures.Knowledge = recipient.seen.map { seen in
            seen.generation == state.generation ? state.departures.knowledge(of: recipient.folded, since: seen.sequence) : .unknown
        } ?? .unknown
        if knowledge == .departed {
            recipient.refused = true
            return .drop
        }
        let confirmed = recipient.verifiedGeneration == state.generation
            && recipient.verifiedAt.map { now - $0 < GatewayConstants.IRC.whoisValidity } == true
        let prompt = knowledge == .stayed && !recipient.privileged
            && recipient.seen.map { now - $0.at < unconfirmedReplyWindow } == true
        if confirmed || prompt { return .send }
        if state.whois[recipient.folded] == nil {
            // A WHOIS costs the server what a line does: it waits for a token of the flood limit,
            // and only so many are asked at once (a flood of late replies to strangers must not
            // become a flood of WHOIS). Half the slots are the admins' lane's alone: WHOIS that
            // time out behind an incoming flood hold theirs for `whoisTimeout`.
            let slots = lane == .priority ? GatewayConstants.IRC.maxPendingWhois : GatewayConstants.IRC.maxPendingWhois / 2
            guard state.tokens >= 1, state.whois.count < slots else {
                if state.tokens < 1 { state.whoisHeldBack = true }
                return .wait
            }
            state.tokens -= 1
            state.whois[recipient.folded] = IRCWhois(sentAt: now)
            state.control.append(IRCMessage(command: "WHOIS", parameters: [recipient.nick]))
        }
        if !state.whois[recipient.folded]!.waiting.contains(where: { $0 === recipient }) {
            state.whois[recipient.folded]!.waiting.append(recipient)
        }
        return .wait
    }

    /// 311, 330, 401 and 318 (the end) of a WHOIS the outbox asked.
    func noteWhois(_ message: IRCMessage) {
        guard message.parameters.count >= 2 else { return }
        let key = IRCCasemapping.fold(message.parameters[1])
        let ended = state.withLockedValue { state -> Bool in
            guard state.whois[key] != nil else { return false }
            let p = message.parameters
            switch message.command {
            case "311" where p.count >= 4:
                state.whois[key]!.user = p[2]
                state.whois[key]!.host = p[3]
            case "330" where p.count >= 3: state.whois[key]!.account = p[2]
            case "401": state.whois[key]!.absent = true
            case "318":
                let answer = state.whois.removeValue(forKey: key)!
                for recipient in answer.waiting {
                    if recipient.isHeld(by: answer) {
                        recipient.verifiedGeneration = state.generation
                        recipient.verifiedAt = .now
                    } else {
                        recipient.refused = true
                    }
                }
                return true
            default: break
            }
            return false
        }
        if ended { wake() }
    }

    /// Unanswered WHOIS past their time: their replies are not delivered. Returns when the next
    /// one runs out.
    func expireWhois(_ state: inout State, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        var next: ContinuousClock.Instant?
        for (key, query) in state.whois {
            let deadline = query.sentAt + GatewayConstants.IRC.whoisTimeout
            if now >= deadline {
                for recipient in query.waiting { recipient.refused = true }
                state.whois[key] = nil
            } else {
                next = min(next ?? deadline, deadline)
            }
        }
        return next
    }
}
