import GatewayCore

/// The agent's conversation history (`turns`), written through the same single writer as the
/// queue: a turn's rows are ordered with its session's other writes, and `/reset`
/// (`forgetSession`) removes them in the same transaction as the session.
extension StateStore: ConversationHistory {
    package nonisolated(nonsending) func beginTurn(session: String, userText: String, earlierPairs pairs: Int,
                                                   earlierBytes bytes: Int = .max) async throws(StoreError) -> HistoryStart {
        let now = Self.nowMicroseconds()
        let result = await withCheckedContinuation {
            submit(.beginTurn(session: session, text: userText, pairs: pairs, bytes: bytes, at: now, $0))
        }
        return try result.get()
    }

    package func recordProgress(turn: Int64, answer: String) {
        submit(.recordProgress(turn: turn, answer: answer))
    }

    package func finishTurn(turn: Int64, session: String, answer: String, outcome: HistoryTurn.Outcome, usage: AgentUsage) {
        submit(.finishTurn(turn: turn, session: session, answer: answer, outcome: outcome, usage: usage, at: Self.nowMicroseconds()))
    }

    /// The earlier turns to send, then the new row. Rows older than those `pairs` are deleted
    /// here: the table holds at most `history_turns + 1` rows per session, whatever its age.
    func beginTurn(session: String, text: String, pairs: Int, bytes: Int, now: Int64) throws(SQLiteError) -> HistoryStart {
        var earlier: [HistoryTurn] = []
        var total = 0
        var full = false
        try connection.run("""
            SELECT user_text, answer, outcome, length(CAST(user_text AS BLOB)) + length(CAST(answer AS BLOB))
            FROM turns WHERE session = ? ORDER BY id DESC LIMIT ?
            """, [.text(session), .int(Int64(pairs))]) { row in
            // Newest first: once one does not fit, the older ones are not read into memory.
            total += Int(row.int(3))
            guard !full, total <= bytes else { full = true; return }
            earlier.append(HistoryTurn(user: row.text(0), answer: row.text(1),
                                       outcome: HistoryTurn.Outcome(rawValue: row.text(2)) ?? .interrupted))
        }
        earlier.reverse()
        try connection.run("""
            DELETE FROM turns WHERE session = ? AND id NOT IN (SELECT id FROM turns WHERE session = ? ORDER BY id DESC LIMIT ?)
            """, [.text(session), .text(session), .int(Int64(pairs))])
        try connection.run("INSERT INTO turns (session, user_text, started_usec) VALUES (?, ?, ?)",
                           [.text(session), .text(text), .int(now)])
        return HistoryStart(turn: connection.lastInsertedRowID, earlier: earlier)
    }

    func finishTurn(turn: Int64, session: String, answer: String, outcome: HistoryTurn.Outcome, usage: AgentUsage,
                    now: Int64) throws(SQLiteError) {
        try connection.run("""
            UPDATE turns SET answer = ?, outcome = ?, tokens_in = ?, tokens_out = ?, finished_usec = ? WHERE id = ?
            """, [.text(answer), .text(outcome.rawValue), .int(Int64(usage.tokensIn)), .int(Int64(usage.tokensOut)),
                  .int(now), .int(turn)])
        if usage != .none {
            try connection.run("UPDATE sessions SET tokens_in = tokens_in + ?, tokens_out = tokens_out + ? WHERE key = ?",
                               [.int(Int64(usage.tokensIn)), .int(Int64(usage.tokensOut)), .text(session)])
        }
    }

    /// `key, turn_count, last_active_usec, tokens_in, tokens_out`.
    static func sessionRecord(_ row: SQLiteRow) -> SessionRecord {
        SessionRecord(key: row.text(0), turnCount: Int(row.int(1)),
                      usage: AgentUsage(tokensIn: Int(row.int(3)), tokensOut: Int(row.int(4))))
    }
}
