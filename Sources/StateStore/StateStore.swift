import CSQLite
import Dispatch
import GatewayCore
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// The dispatcher's durable state in one SQLite file (`state_dir/state.db`, WAL mode).
///
/// One connection, one writer: every call becomes an operation on a FIFO, and the store's own
/// queue applies whatever has piled up in one transaction (group commit), so a burst of messages
/// costs one WAL write, not one each. Nothing here runs on the dispatcher's executor.
package final class StateStore: MessageStore, @unchecked Sendable {
    package static let fileName = "state.db"
    /// A write waits this long for another process's lock before the caller hears "locked".
    package static let defaultBusyTimeoutMilliseconds: Int32 = 2_000

    package let path: String
    let connection: SQLiteConnection
    private let queue = DispatchQueue(label: "gatewayd.state-store")
    private let pending = NIOLockedValueBox<[Operation]>([])
    /// Failures of calls nobody awaits (`markDone`, ...), for the log.
    private let onProblem: @Sendable (StoreError) -> Void
    /// Each transaction's time goes to `gatewayd_store_commit_duration_seconds`.
    private let metrics: GatewayMetrics?

    enum Operation {
        case append(InboundMessage, session: String, at: Int64, CheckedContinuation<Result<Int64, StoreError>, Never>)
        case markActive([Int64], session: String, at: Int64)
        case markDone([Int64])
        case markInterrupted([Int64])
        case forgetSession(String)
        case lookUpSession(String, @Sendable (SessionRecord?) -> Void)
        case addNotice(ChatAddress, at: Int64, CheckedContinuation<Result<Void, StoreError>, Never>)
        case recover(RecoveryPolicy, CheckedContinuation<Result<StoreRecovery, StoreError>, Never>)
        case beginTurn(session: String, text: String, pairs: Int, bytes: Int, at: Int64, CheckedContinuation<Result<HistoryStart, StoreError>, Never>)
        case recordProgress(turn: Int64, answer: String)
        case finishTurn(turn: Int64, session: String, answer: String, outcome: HistoryTurn.Outcome, usage: AgentUsage, at: Int64)
        case readCursor(String, CheckedContinuation<Result<String?, StoreError>, Never>)
        case writeCursor(String, value: String, at: Int64, CheckedContinuation<Result<Void, StoreError>, Never>)
        case recordReply(String, ChatAddress, message: Int64?, at: Int64, CheckedContinuation<Result<Int64, StoreError>, Never>)
        case beginAttempt(Int64, CheckedContinuation<Void, Never>)
        case settleReply(Int64)
        case releaseReply(Int64)
        case takeUnsent(platform: String, LedgerPolicy, at: Int64, CheckedContinuation<Result<UnsentReplies, StoreError>, Never>)
    }

    /// The last ledger row an earlier process wrote: `takeUnsent` leaves this process's own
    /// replies (still being sent) alone.
    let ledgerFloor: Int64

    init(path: String, connection: SQLiteConnection, metrics: GatewayMetrics? = nil, onProblem: @escaping @Sendable (StoreError) -> Void) {
        self.path = path
        self.metrics = metrics
        self.connection = connection
        self.onProblem = onProblem
        // Unreadable: nothing is sent again (never twice), and the rows stay for a later start.
        ledgerFloor = (try? connection.integer("SELECT COALESCE(MAX(id), 0) FROM outbound_replies")) ?? 0 ?? 0
    }

    // MARK: MessageStore

    package nonisolated(nonsending) func append(_ message: InboundMessage, session: String) async throws(StoreError) -> Int64 {
        let now = Self.nowMicroseconds()
        let result = await withCheckedContinuation { submit(.append(message, session: session, at: now, $0)) }
        return try result.get()
    }

    package func markActive(_ ids: [Int64], session: String) {
        submit(.markActive(ids, session: session, at: Self.nowMicroseconds()))
    }

    package func markDone(_ ids: [Int64]) { if !ids.isEmpty { submit(.markDone(ids)) } }

    package func markInterrupted(_ ids: [Int64]) { if !ids.isEmpty { submit(.markInterrupted(ids)) } }

    package func forgetSession(_ key: String) { submit(.forgetSession(key)) }

    package func lookUpSession(_ key: String, then: @escaping @Sendable (SessionRecord?) -> Void) {
        submit(.lookUpSession(key, then))
    }

    package func addRestartNotice(_ chat: ChatAddress) async throws(StoreError) {
        let now = Self.nowMicroseconds()
        let result = await withCheckedContinuation { submit(.addNotice(chat, at: now, $0)) }
        try result.get()
    }

    package func recover(policy: RecoveryPolicy) async throws(StoreError) -> StoreRecovery {
        let result = await withCheckedContinuation { submit(.recover(policy, $0)) }
        return try result.get()
    }

    /// Returns once everything submitted so far is applied (tests, and the daemon before exit).
    package func flush() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { self.applyPending() ; done.resume() }
        }
    }

    // MARK: The writer

    func submit(_ operation: Operation) {
        let first = pending.withLockedValue { operations in
            operations.append(operation)
            return operations.count == 1
        }
        // One write per burst: whoever finds the list empty schedules it; later arrivals ride along.
        if first { queue.async { self.applyPending() } }
    }

    private func applyPending() {
        while true {
            let batch = pending.withLockedValue { operations in
                defer { operations = [] }
                return operations
            }
            if batch.isEmpty { return }
            apply(batch)
        }
    }

    /// Applies a batch in one transaction. If it fails as a whole, each operation is tried on its
    /// own so one bad write does not fail the others, and each caller gets its own answer.
    private func apply(_ batch: [Operation]) {
        var results: [Any] = []
        let started = ContinuousClock.now
        defer { metrics?.storeCommitted(after: .now - started) }
        do throws(SQLiteError) {
            try connection.execute("BEGIN IMMEDIATE")
            do throws(SQLiteError) {
                for operation in batch { results.append(try perform(operation)) }
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        } catch {
            if batch.count > 1 {
                for operation in batch { apply([operation]) }
                return
            }
            fail(batch[0], Self.storeError(error))
            return
        }
        for (operation, result) in zip(batch, results) { succeed(operation, result) }
    }

    private func succeed(_ operation: Operation, _ result: Any) {
        switch operation {
        case .append(_, _, _, let continuation): continuation.resume(returning: .success(result as! Int64))
        case .addNotice(_, _, let continuation): continuation.resume(returning: .success(()))
        case .recover(_, let continuation): continuation.resume(returning: .success(result as! StoreRecovery))
        case .lookUpSession(_, let then): then(result as? SessionRecord)
        case .beginTurn(_, _, _, _, _, let continuation): continuation.resume(returning: .success(result as! HistoryStart))
        case .readCursor(_, let continuation): continuation.resume(returning: .success(result as? String))
        case .writeCursor(_, _, _, let continuation): continuation.resume(returning: .success(()))
        case .recordReply(_, _, _, _, let continuation): continuation.resume(returning: .success(result as! Int64))
        case .beginAttempt(_, let continuation): continuation.resume()
        case .takeUnsent(_, _, _, let continuation): continuation.resume(returning: .success(result as! UnsentReplies))
        case .markActive, .markDone, .markInterrupted, .forgetSession, .recordProgress, .finishTurn, .settleReply, .releaseReply: break
        }
    }

    private func fail(_ operation: Operation, _ error: StoreError) {
        switch operation {
        case .append(_, _, _, let continuation): continuation.resume(returning: .failure(error))
        case .addNotice(_, _, let continuation): continuation.resume(returning: .failure(error))
        case .recover(_, let continuation): continuation.resume(returning: .failure(error))
        case .lookUpSession(_, let then):
            onProblem(error)
            then(nil)
        case .beginTurn(_, _, _, _, _, let continuation): continuation.resume(returning: .failure(error))
        case .readCursor(_, let continuation): continuation.resume(returning: .failure(error))
        case .writeCursor(_, _, _, let continuation): continuation.resume(returning: .failure(error))
        case .recordReply(_, _, _, _, let continuation): continuation.resume(returning: .failure(error))
        case .beginAttempt(_, let continuation):
            onProblem(error)
            continuation.resume()
        case .takeUnsent(_, _, _, let continuation): continuation.resume(returning: .failure(error))
        case .markActive, .markDone, .markInterrupted, .forgetSession, .recordProgress, .finishTurn, .settleReply, .releaseReply: onProblem(error)
        }
    }

    private func perform(_ operation: Operation) throws(SQLiteError) -> Any {
        switch operation {
        case .append(let message, let session, let now, _):
            try connection.run("""
                INSERT INTO messages (session, platform, chat, chat_type, user, text, received_usec, account, hostmask)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(session), .text(message.platform), .text(message.chat), .text(message.chatType.rawValue),
                      .text(message.user), .text(message.text), .int(now), .optionalText(message.account),
                      .optionalText(message.hostmask)])
            return connection.lastInsertedRowID
        case .markActive(let ids, let session, let now):
            for id in ids {
                try connection.run("UPDATE messages SET state = 'active', attempts = attempts + 1 WHERE id = ?", [.int(id)])
            }
            try connection.run("""
                INSERT INTO sessions (key, created_usec, last_active_usec, turn_count) VALUES (?, ?, ?, 1)
                ON CONFLICT (key) DO UPDATE SET last_active_usec = excluded.last_active_usec, turn_count = turn_count + 1
                """, [.text(session), .int(now), .int(now)])
        case .markDone(let ids):
            for id in ids { try connection.run("DELETE FROM messages WHERE id = ?", [.int(id)]) }
        case .markInterrupted(let ids):
            for id in ids { try connection.run("UPDATE messages SET state = 'interrupted' WHERE id = ?", [.int(id)]) }
        case .forgetSession(let key):
            try connection.run("DELETE FROM messages WHERE session = ? AND state != 'parked'", [.text(key)])
            try connection.run("DELETE FROM sessions WHERE key = ?", [.text(key)])
            try connection.run("DELETE FROM turns WHERE session = ?", [.text(key)])
        case .addNotice(let chat, let now, _):
            try connection.run("""
                INSERT INTO restart_notices (platform, chat, requested_usec, account, hostmask) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (platform, chat) DO UPDATE SET requested_usec = excluded.requested_usec,
                    account = excluded.account, hostmask = excluded.hostmask
                """, [.text(chat.platform), .text(chat.chat), .int(now), .optionalText(chat.account), .optionalText(chat.hostmask)])
        case .recover(let policy, _):
            return try recover(policy)
        case .lookUpSession(let key, _):
            var record: SessionRecord?
            try connection.run("SELECT key, turn_count, last_active_usec, tokens_in, tokens_out FROM sessions WHERE key = ?",
                               [.text(key)]) { row in
                record = Self.sessionRecord(row)
            }
            return record as Any
        case .beginTurn(let session, let text, let pairs, let bytes, let now, _):
            return try beginTurn(session: session, text: text, pairs: pairs, bytes: bytes, now: now)
        case .recordProgress(let turn, let answer):
            try connection.run("UPDATE turns SET answer = ? WHERE id = ? AND outcome = 'open'", [.text(answer), .int(turn)])
        case .finishTurn(let turn, let session, let answer, let outcome, let usage, let now):
            try finishTurn(turn: turn, session: session, answer: answer, outcome: outcome, usage: usage, now: now)
        case .readCursor(let key, _):
            return try readCursor(key) as Any
        case .writeCursor(let key, let value, let now, _):
            try writeCursor(key, value: value, now: now)
        case .recordReply(let text, let address, let message, let now, _):
            return try recordReply(text, to: address, message: message, now: now)
        case .beginAttempt(let id, _):
            try connection.run("UPDATE outbound_replies SET attempts = attempts + 1 WHERE id = ?", [.int(id)])
        case .settleReply(let id):
            try connection.run("DELETE FROM outbound_replies WHERE id = ?", [.int(id)])
        case .releaseReply(let id):
            try connection.run("UPDATE outbound_replies SET attempts = attempts - 1 WHERE id = ? AND attempts > 0", [.int(id)])
        case .takeUnsent(let platform, let policy, let now, _):
            return try takeUnsent(platform: platform, policy: policy, now: now)
        }
        return ()
    }

    static func storeError(_ error: SQLiteError) -> StoreError {
        if error.isFull { return StoreError(.full, "the disk holding the state store is full (\(error.message))") }
        if error.isLocked { return StoreError(.locked, "the state store is locked by another process (\(error.message))") }
        return StoreError(.failed, "the state store failed: \(error.message)")
    }

    static func nowMicroseconds() -> Int64 { WallClock.microseconds() }
}
