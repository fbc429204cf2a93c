import CSQLite

/// What SQLite said, with its result code kept so callers can tell a full disk from a lock.
package struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The primary result code (`SQLITE_FULL`, `SQLITE_BUSY`, `SQLITE_NOTADB`, ...).
    package let code: Int32
    package let message: String

    package var description: String { message }

    package var isFull: Bool { code == SQLITE_FULL }
    package var isLocked: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    package var isCorrupt: Bool { code == SQLITE_CORRUPT || code == SQLITE_NOTADB }
}

/// One SQLite connection, used from one thread at a time (the store's). A thin layer: the SQL is
/// written out where it is used, so what runs against the file is plain to read.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating) the file. `busyTimeout`: how long a write waits for another process's
    /// lock before it fails with `SQLITE_BUSY`.
    init(path: String, busyTimeoutMilliseconds: Int32) throws(SQLiteError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc & 0xff, message: message)
        }
        handle = db
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: rc & 0xff, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one or more statements that take no parameters and return nothing of interest.
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    /// Runs `sql` with `bindings`, calling `row` for each result row. Statements are prepared
    /// once and kept.
    func run(_ sql: String, _ bindings: [SQLiteValue] = [], row: ((SQLiteRow) -> Void)? = nil) throws(SQLiteError) {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in bindings.enumerated() {
            let position = Int32(index + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, position)
            case .int(let number): rc = sqlite3_bind_int64(statement, position, number)
            case .text(let text): rc = Self.bind(text, to: statement, at: position)
            }
            guard rc == SQLITE_OK else { throw error(rc) }
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc) }
            row?(SQLiteRow(statement: statement))
        }
    }

    /// Binds text with its byte count: with -1 SQLite would stop at the first NUL, and a message
    /// with one would lose the rest of its text in the queue (`SQLiteRow.text` reads it back by
    /// `sqlite3_column_bytes` for the same reason).
    private static func bind(_ text: String, to statement: OpaquePointer, at position: Int32) -> Int32 {
        var text = text
        return text.withUTF8 { bytes in
            // An empty buffer may have no address, which SQLite would bind as NULL.
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_text(statement, position, "", 0, gw_sqlite_transient())
            }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text64(statement, position, $0, sqlite3_uint64(bytes.count), gw_sqlite_transient(), UInt8(SQLITE_UTF8))
            }
        }
    }

    /// The first column of the first row, as an integer.
    func integer(_ sql: String, _ bindings: [SQLiteValue] = []) throws(SQLiteError) -> Int64? {
        var value: Int64?
        try run(sql, bindings) { row in if value == nil { value = row.int(0) } }
        return value
    }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    var changes: Int { Int(sqlite3_changes(handle)) }

    private func prepared(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc) }
        statements[sql] = statement
        return statement
    }
}

enum SQLiteValue {
    case null
    case int(Int64)
    case text(String)

    /// NULL for nil (an identity the network did not give), so it reads back as nil, not "".
    static func optionalText(_ text: String?) -> SQLiteValue { text.map { .text($0) } ?? .null }
}

/// The current row of a stepping statement; valid only inside the `row` callback.
struct SQLiteRow {
    let statement: OpaquePointer

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// nil for NULL (the pair of `SQLiteValue.optionalText`).
    func optionalText(_ column: Int32) -> String? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : text(column)
    }
}
