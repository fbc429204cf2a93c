import CSQLite
import GatewayCore
#if canImport(Glibc)
import Glibc
#endif

extension StateStore {
    /// Schema migrations, oldest first; `PRAGMA user_version` says how many have run. Append,
    /// never edit: a file in the field is at any of these versions.
    static let migrations: [String] = [
        // 1: sessions, the queue, restart notices.
        """
        CREATE TABLE sessions (
            key TEXT PRIMARY KEY,
            created_usec INTEGER NOT NULL,
            last_active_usec INTEGER NOT NULL,
            turn_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session TEXT NOT NULL,
            platform TEXT NOT NULL,
            chat TEXT NOT NULL,
            chat_type TEXT NOT NULL,
            user TEXT NOT NULL,
            text TEXT NOT NULL,
            received_usec INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
        );
        CREATE INDEX messages_by_session ON messages (session, id);
        CREATE TABLE restart_notices (
            platform TEXT NOT NULL,
            chat TEXT NOT NULL,
            requested_usec INTEGER NOT NULL,
            PRIMARY KEY (platform, chat)
        );
        """,
        // 2: attempts per message, so a turn that keeps dying with the gateway is parked.
        """
        ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        """,
        // 3: who sent each message and asked for each restart notice, as the network vouched
        // (IRC services account, nick!user@host), so a reply sent after a restart can be
        // checked to reach the same person. Rows from before stay NULL: their private replies
        // are withheld, since nothing can confirm who holds the nick now.
        """
        ALTER TABLE messages ADD COLUMN account TEXT;
        ALTER TABLE messages ADD COLUMN hostmask TEXT;
        ALTER TABLE restart_notices ADD COLUMN account TEXT;
        ALTER TABLE restart_notices ADD COLUMN hostmask TEXT;
        """,
        // 4: the start loads the most recently active sessions only (`sessions.max`), without
        // sorting every row.
        """
        CREATE INDEX sessions_by_last_active ON sessions (last_active_usec);
        """,
        // 5: the agent's conversation history (one row per turn: the user's message and the
        // answer, with how it ended) and the tokens each session used.
        """
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session TEXT NOT NULL,
            user_text TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            outcome TEXT NOT NULL DEFAULT 'open',
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            started_usec INTEGER NOT NULL,
            finished_usec INTEGER
        );
        CREATE INDEX turns_by_session ON turns (session, id);
        ALTER TABLE sessions ADD COLUMN tokens_in INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN tokens_out INTEGER NOT NULL DEFAULT 0;
        """,
        // 6: each adapter's position in its platform's stream (Telegram's update offset), so
        // what came while gatewayd was down is read after it starts, and nothing twice.
        """
        CREATE TABLE platform_cursors (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_usec INTEGER NOT NULL
        );
        """,
        // 7: the outbound delivery ledger: each reply to a platform that can send later, from
        // before it is sent until the platform took it (`ReplyLedger`).
        """
        CREATE TABLE outbound_replies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            chat TEXT NOT NULL,
            account TEXT,
            hostmask TEXT,
            text TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            recorded_usec INTEGER NOT NULL,
            message_id INTEGER
        );
        CREATE INDEX outbound_replies_by_platform ON outbound_replies (platform, id);
        CREATE INDEX outbound_replies_by_message ON outbound_replies (message_id) WHERE message_id IS NOT NULL;
        """,
    ]

    /// What opening found, for the log and `STATUS=`.
    package struct Opening: Sendable {
        /// nil when there is no usable store: the gateway runs, without durability.
        package let store: StateStore?
        /// Said once in the log and kept in `STATUS=`: a corrupt file moved aside, or why there is no store.
        package let problem: String?
    }

    /// Opens `directory/state.db`, creating the directory and migrating the schema. A file that
    /// is not a database (or fails its integrity check) is moved aside and a fresh one started;
    /// a file from a newer gatewayd, or a directory that cannot be written, leaves no store.
    package static func open(
        directory: String, busyTimeoutMilliseconds: Int32 = defaultBusyTimeoutMilliseconds, metrics: GatewayMetrics? = nil,
        onProblem: @escaping @Sendable (StoreError) -> Void = { _ in }
    ) -> Opening {
        makeDirectories(directory)
        let path = directory + "/" + fileName
        do throws(SQLiteError) {
            let connection = try prepare(path, busyTimeoutMilliseconds)
            return Opening(store: StateStore(path: path, connection: connection, metrics: metrics, onProblem: onProblem), problem: nil)
        } catch where error.isCorrupt {
            let aside = "\(path).corrupt-\(nowMicroseconds() / 1_000_000)"
            guard rename(path, aside) == 0 else {
                return Opening(store: nil, problem: "state store \(path) is corrupt (\(error.message)) and cannot be moved aside: \(String(cString: strerror(errno))); running without durable queue")
            }
            for suffix in ["-wal", "-shm"] { rename(path + suffix, aside + suffix) }
            let problem = "state store \(path) was corrupt (\(error.message)); moved to \(aside), started empty"
            do throws(SQLiteError) {
                let connection = try prepare(path, busyTimeoutMilliseconds)
                return Opening(store: StateStore(path: path, connection: connection, metrics: metrics, onProblem: onProblem), problem: problem)
            } catch {
                return Opening(store: nil, problem: problem + "; a fresh one failed too: \(error.message)")
            }
        } catch {
            return Opening(store: nil, problem: "state store \(path) unusable: \(error.message); running without durable queue")
        }
    }

    /// `mkdir -p`: systemd's `StateDirectory=` makes it in production, a test or a first run may not.
    static func makeDirectories(_ path: String) {
        var prefix = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            mkdir(path.hasPrefix("/") ? prefix : String(prefix.dropFirst()), 0o750)
        }
    }

    private static func prepare(_ path: String, _ busyTimeoutMilliseconds: Int32) throws(SQLiteError) -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        // A file that is not SQLite fails here (SQLITE_NOTADB), one with damaged pages in the check.
        var check = ""
        try connection.run("PRAGMA quick_check") { row in if check.isEmpty { check = row.text(0) } }
        guard check == "ok" else { throw SQLiteError(code: SQLITE_CORRUPT, message: "integrity check: \(check)") }
        // WAL: the writer never blocks readers; NORMAL: a commit survives the process dying
        // (kill -9, a crash), and only a power loss can take the last commits with it.
        try connection.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
        try migrate(connection)
        return connection
    }

    static func migrate(_ connection: SQLiteConnection, to target: Int = migrations.count) throws(SQLiteError) {
        let version = Int(try connection.integer("PRAGMA user_version") ?? 0)
        guard version <= migrations.count else {
            throw SQLiteError(code: SQLITE_ERROR, message: "written by a newer gatewayd (schema \(version); this one knows \(migrations.count))")
        }
        guard version < target else { return }
        try connection.execute("BEGIN IMMEDIATE")
        do throws(SQLiteError) {
            for step in version..<target {
                try connection.execute(migrations[step])
            }
            try connection.execute("PRAGMA user_version = \(target)")
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }
}
