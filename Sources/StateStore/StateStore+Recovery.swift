import GatewayCore

extension StateStore {
    /// Runs inside the writer's transaction: decides, for every message whose turn never
    /// finished, whether it is replayed or given up on, and records the decision.
    func recover(_ policy: RecoveryPolicy) throws(SQLiteError) -> StoreRecovery {
        var recovery = StoreRecovery()
        var rows: [(StoredMessage, state: String)] = []
        try connection.run("""
            SELECT id, session, platform, chat, chat_type, user, text, attempts, state, account, hostmask
            FROM messages WHERE state != 'parked' ORDER BY id
            """) { row in
            let message = InboundMessage(
                platform: row.text(2), chat: row.text(3), chatType: ChatType(rawValue: row.text(4)) ?? .dm,
                user: row.text(5), text: row.text(6), account: row.optionalText(9), hostmask: row.optionalText(10))
            rows.append((StoredMessage(id: row.int(0), session: row.text(1), message: message, attempts: Int(row.int(7))),
                         row.text(8)))
        }
        for (stored, state) in rows {
            let reason: AbandonReason?
            switch state {
            case "interrupted": reason = stored.attempts > policy.retriesAfterInterrupt ? .interruptedAgain : nil
            case "active": reason = stored.attempts >= policy.parkAfterAttempts ? .parked : nil
            default: reason = nil
            }
            if let reason {
                recovery.abandoned.append(.init(message: stored, reason: reason))
                if reason == .parked {
                    // Kept for the operator to look at; never replayed again.
                    try connection.run("UPDATE messages SET state = 'parked' WHERE id = ?", [.int(stored.id)])
                } else {
                    try connection.run("DELETE FROM messages WHERE id = ?", [.int(stored.id)])
                }
            } else {
                // An interrupted turn counts as pending again; an `active` one keeps its state so
                // a crash during the retry is counted on the next start.
                if state == "interrupted" {
                    try connection.run("UPDATE messages SET state = 'pending' WHERE id = ?", [.int(stored.id)])
                }
                try forgetReplies(answering: stored.id)
                recovery.replay.append(stored)
            }
        }
        try connection.run("SELECT platform, chat, account, hostmask FROM restart_notices ORDER BY requested_usec") { row in
            recovery.restartNotices.append(ChatAddress(
                platform: row.text(0), chat: row.text(1), account: row.optionalText(2), hostmask: row.optionalText(3)))
        }
        try connection.run("DELETE FROM restart_notices")
        // At most `maxSessions` (most recently active first, by the index of migration 4), and
        // every session with a message to replay, whose turn count must not restart at 0. Both
        // halves are index lookups: a million rows cost the start nothing it does not load.
        try connection.run("""
            SELECT key, turn_count, last_active_usec, tokens_in, tokens_out FROM (
                SELECT key, turn_count, last_active_usec, tokens_in, tokens_out FROM sessions
                ORDER BY last_active_usec DESC LIMIT ?)
            UNION
            SELECT sessions.key, sessions.turn_count, sessions.last_active_usec, sessions.tokens_in, sessions.tokens_out
                FROM messages JOIN sessions ON sessions.key = messages.session WHERE messages.state != 'parked'
            ORDER BY last_active_usec DESC
            """, [.int(Int64(policy.maxSessions))]) { row in
            recovery.sessions.append(Self.sessionRecord(row))
        }
        // A turn still open belonged to a process that died: its answer is partial.
        try connection.run("UPDATE turns SET outcome = 'interrupted' WHERE outcome = 'open'")
        return recovery
    }
}
