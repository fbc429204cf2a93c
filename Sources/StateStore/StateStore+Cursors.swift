import GatewayCore

/// The adapters' positions in their platforms' streams (`platform_cursors`), written through
/// the same single writer as the queue: a position stored after a batch's messages were
/// appended is committed with them or after them, never before.
extension StateStore: PlatformCursorStore {
    package func cursor(for key: String) async throws(StoreError) -> String? {
        let result = await withCheckedContinuation { submit(.readCursor(key, $0)) }
        return try result.get()
    }

    package func setCursor(_ value: String, for key: String) async throws(StoreError) {
        let now = Self.nowMicroseconds()
        let result = await withCheckedContinuation { submit(.writeCursor(key, value: value, at: now, $0)) }
        try result.get()
    }

    func readCursor(_ key: String) throws(SQLiteError) -> String? {
        var value: String?
        try connection.run("SELECT value FROM platform_cursors WHERE key = ?", [.text(key)]) { row in value = row.text(0) }
        return value
    }

    func writeCursor(_ key: String, value: String, now: Int64) throws(SQLiteError) {
        try connection.run("""
            INSERT INTO platform_cursors (key, value, updated_usec) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_usec = excluded.updated_usec
            """, [.text(key), .text(value), .int(now)])
    }
}
