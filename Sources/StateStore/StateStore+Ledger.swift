import GatewayCore

/// The outbound delivery ledger (`outbound_replies`), through the same single writer as the
/// queue: a reply's `settle` is applied after its `record`, and a recovered message's reply is
/// recorded after the message was appended.
extension StateStore: ReplyLedger {
    package func record(_ text: String, to address: ChatAddress, answering messageIDs: [Int64]) async throws(StoreError) -> Int64 {
        let now = Self.nowMicroseconds()
        // A turn of several merged messages: they are replayed together, so one of them links it.
        let result = await withCheckedContinuation { submit(.recordReply(text, address, message: messageIDs.min(), at: now, $0)) }
        return try result.get()
    }

    package func beginAttempt(_ id: Int64) async {
        await withCheckedContinuation { submit(.beginAttempt(id, $0)) }
    }

    package func settle(_ id: Int64) { submit(.settleReply(id)) }

    package func release(_ id: Int64) { submit(.releaseReply(id)) }

    package func takeUnsent(platform: String, policy: LedgerPolicy) async throws(StoreError) -> UnsentReplies {
        let now = Self.nowMicroseconds()
        let result = await withCheckedContinuation { submit(.takeUnsent(platform: platform, policy, at: now, $0)) }
        return try result.get()
    }

    func recordReply(_ text: String, to address: ChatAddress, message: Int64?, now: Int64) throws(SQLiteError) -> Int64 {
        try connection.run("""
            INSERT INTO outbound_replies (platform, chat, account, hostmask, text, attempts, recorded_usec, message_id)
            VALUES (?, ?, ?, ?, ?, 0, ?, ?)
            """, [.text(address.platform), .text(address.chat), .optionalText(address.account),
                  .optionalText(address.hostmask), .text(text), .int(now), message.map { .int($0) } ?? .null])
        return connection.lastInsertedRowID
    }

    /// In `recover`'s transaction: a message replayed now is answered by its new turn; the
    /// unsent replies of its earlier one would answer it twice.
    func forgetReplies(answering messageID: Int64) throws(SQLiteError) {
        try connection.run("DELETE FROM outbound_replies WHERE message_id = ?", [.int(messageID)])
    }

    /// Removes what the policy gives up, counts one more attempt for the rest, returns them.
    func takeUnsent(platform: String, policy: LedgerPolicy, now: Int64) throws(SQLiteError) -> UnsentReplies {
        let oldest = now - DurationValue.microseconds(policy.maxAge)
        try connection.run("DELETE FROM outbound_replies WHERE platform = ? AND id <= ? AND (attempts >= ? OR recorded_usec < ?)",
                           [.text(platform), .int(ledgerFloor), .int(Int64(policy.maxAttempts)), .int(oldest)])
        var unsent = UnsentReplies(abandoned: connection.changes)
        // Those of platforms no longer configured go for their age too (never taken otherwise).
        try connection.run("DELETE FROM outbound_replies WHERE id <= ? AND recorded_usec < ?", [.int(ledgerFloor), .int(oldest)])
        try connection.run("UPDATE outbound_replies SET attempts = attempts + 1 WHERE platform = ? AND id <= ?",
                           [.text(platform), .int(ledgerFloor)])
        try connection.run("""
            SELECT id, chat, account, hostmask, text, attempts, recorded_usec FROM outbound_replies
            WHERE platform = ? AND id <= ? ORDER BY id
            """, [.text(platform), .int(ledgerFloor)]) { row in
            unsent.replies.append(UnsentReply(
                id: row.int(0),
                address: ChatAddress(platform: platform, chat: row.text(1), account: row.optionalText(2), hostmask: row.optionalText(3)),
                text: row.text(4), attempts: Int(row.int(5)) - 1, recordedUsec: row.int(6)))
        }
        return unsent
    }
}
