import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
@testable import StateStore

private func message(_ text: String, chat: String = "alice") -> InboundMessage {
    InboundMessage(platform: "local", chat: chat, user: chat, text: text)
}

private func openStore(_ directory: String, busyTimeout: Int32 = StateStore.defaultBusyTimeoutMilliseconds) throws -> StateStore {
    let opening = StateStore.open(directory: directory, busyTimeoutMilliseconds: busyTimeout)
    #expect(opening.problem == nil)
    return try #require(opening.store)
}

/// Runs a Python snippet against the database file: a second, independent SQLite client.
private func python(_ script: String, _ arguments: [String] = []) async throws -> ProcessOutput {
    try await onThread { try run(["/usr/bin/python3", "-c", script] + arguments) }
}

@Suite("State store (SQLite)")
struct StateStoreTests {
    @Test("appended messages survive a new connection, in order; done ones are gone")
    func appendAndRecover() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try openStore(directory)
            var ids: [Int64] = []
            for text in ["one", "two", "three"] { ids.append(try await store.append(message(text), session: "local:dm:alice")) }
            #expect(ids == ids.sorted() && Set(ids).count == 3)
            store.markActive([ids[0]], session: "local:dm:alice")
            store.markDone([ids[0]])
            await store.flush()
        }
        let store = try openStore(directory)
        let recovery = try await store.recover(policy: RecoveryPolicy())
        #expect(recovery.replay.map(\.message.text) == ["two", "three"])
        #expect(recovery.replay.allSatisfy { $0.session == "local:dm:alice" && $0.attempts == 0 })
        #expect(recovery.sessions == [SessionRecord(key: "local:dm:alice", turnCount: 1)])
    }

    @Test("text with NUL bytes (and other control bytes) comes back whole after a restart")
    func embeddedNUL() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let texts = ["before\0after", "\0", "a\0\0b\r\n\u{1}é😀\0", ""]
        do {
            let store = try openStore(directory)
            for text in texts { _ = try await store.append(message(text, chat: "nul\0chat"), session: "local:dm:nul\0chat") }
            await store.flush()
        }
        let recovery = try await openStore(directory).recover(policy: RecoveryPolicy())
        #expect(recovery.replay.map(\.message.text) == texts)
        #expect(recovery.replay.allSatisfy { $0.message.chat == "nul\0chat" && $0.session == "local:dm:nul\0chat" })
    }

    @Test("a drain-interrupted turn is retried once, then given up; a crash-active one is parked on the 3rd start")
    func retryPolicy() async throws {
        let directory = makeTemporaryDirectory()
        let store = try openStore(directory)
        let interrupted = try await store.append(message("interrupted"), session: "s")
        let crashing = try await store.append(message("crashing", chat: "bob"), session: "t")
        var abandoned: [StoreRecovery.Abandoned] = []
        for start in 1...3 {
            let recovery = try await store.recover(policy: RecoveryPolicy())
            abandoned += recovery.abandoned
            // Each start the turns begin again and die: one by a drain, one by a crash.
            if recovery.replay.contains(where: { $0.id == interrupted }) {
                store.markActive([interrupted], session: "s")
                store.markInterrupted([interrupted])
            }
            if recovery.replay.contains(where: { $0.id == crashing }) {
                store.markActive([crashing], session: "t")
            } else {
                #expect(start == 3 || abandoned.contains { $0.message.id == crashing })
            }
        }
        let final = try await store.recover(policy: RecoveryPolicy())
        abandoned += final.abandoned
        #expect(abandoned.map(\.reason) == [.interruptedAgain, .parked])
        #expect(abandoned.map(\.message.message.text) == ["interrupted", "crashing"])
        #expect(abandoned.first?.message.attempts == 2)
        #expect(abandoned.last?.message.attempts == 3)
        #expect(final.replay.isEmpty)
        // The parked message stays in the file for the operator.
        await store.flush()
        let parked = try await python("import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select text, state from messages\").fetchall())",
                                [directory + "/state.db"])
        #expect(parked.standardOutput.contains("('crashing', 'parked')"))
    }

    @Test("restart notices are returned once; /reset forgets the session's queue")
    func noticesAndReset() async throws {
        let store = try openStore(makeTemporaryDirectory())
        try await store.addRestartNotice(ChatAddress(platform: "irc", chat: "#ops"))
        try await store.addRestartNotice(ChatAddress(platform: "irc", chat: "#ops"))
        _ = try await store.append(message("kept", chat: "bob"), session: "b")
        _ = try await store.append(message("dropped"), session: "a")
        store.forgetSession("a")
        let first = try await store.recover(policy: RecoveryPolicy())
        #expect(first.restartNotices == [ChatAddress(platform: "irc", chat: "#ops")])
        #expect(first.replay.map(\.message.text) == ["kept"])
        #expect(try await store.recover(policy: RecoveryPolicy()).restartNotices.isEmpty)
    }

    @Test("who sent a message and who asked for a restart notice (account, nick!user@host) come back after a restart; none stays none")
    func senderIdentity() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let dm = InboundMessage(platform: "irc", chat: "alice", user: "alice", text: "question", account: "alice",
                                hostmask: "alice!~alice@host.example")
        let bare = InboundMessage(platform: "irc", chat: "bob", user: "bob", text: "no prefix")
        let notice = ChatAddress(platform: "irc", chat: "alice", account: nil, hostmask: "alice!~alice@host.example")
        do {
            let store = try openStore(directory)
            _ = try await store.append(dm, session: "irc:dm:alice")
            _ = try await store.append(bare, session: "irc:dm:bob")
            try await store.addRestartNotice(ChatAddress(platform: "irc", chat: "alice", account: "old", hostmask: "old!o@o"))
            try await store.addRestartNotice(notice)
            await store.flush()
        }
        let recovery = try await openStore(directory).recover(policy: RecoveryPolicy())
        #expect(recovery.replay.map(\.message) == [dm, bare])
        #expect(recovery.replay.last?.message.account == nil && recovery.replay.last?.message.hostmask == nil, "NULL, not \"\"")
        #expect(recovery.restartNotices == [notice], "the latest request's identity")
    }

    @Test("a burst of appends from many tasks: all stored, ids in submission order per task")
    func concurrentAppends() async throws {
        let store = try openStore(makeTemporaryDirectory())
        let perSession = 200
        try await withThrowingTaskGroup(of: [Int64].self) { group in
            for session in 0..<16 {
                group.addTask {
                    var ids: [Int64] = []
                    for n in 0..<perSession { ids.append(try await store.append(message("\(session)-\(n)"), session: "s\(session)")) }
                    return ids
                }
            }
            for try await ids in group { #expect(ids == ids.sorted()) }
        }
        let recovery = try await store.recover(policy: RecoveryPolicy())
        #expect(recovery.replay.count == 16 * perSession)
        for session in 0..<16 {
            let texts = recovery.replay.filter { $0.session == "s\(session)" }.map(\.message.text)
            #expect(texts == (0..<perSession).map { "\(session)-\($0)" })
        }
    }

    @Test("another process holding the lock: appends fail as locked after the busy timeout, and work again after")
    func locked() async throws {
        let directory = makeTemporaryDirectory()
        let store = try openStore(directory, busyTimeout: 200)
        _ = try await store.append(message("before"), session: "s")
        let holder = try await SQLiteLockHolder(database: directory + "/state.db")
        let error = await #expect(throws: StoreError.self) { try await store.append(message("while locked"), session: "s") }
        #expect(error?.code == .locked)
        try await holder.release()
        _ = try await store.append(message("after"), session: "s")
        #expect(try await store.recover(policy: RecoveryPolicy()).replay.map(\.message.text) == ["before", "after"])
    }

    @Test("from an empty directory, and from the first schema, to the current one")
    func migrations() async throws {
        let fresh = makeTemporaryDirectory() + "/new/state"
        let store = try openStore(fresh)
        _ = try await store.append(message("x"), session: "s")
        let version = try await python("import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma user_version').fetchone()[0])",
                                 [fresh + "/state.db"])
        #expect(version.standardOutput == "\(StateStore.migrations.count)\n")

        // A file as the first release wrote it: schema 1, one message waiting.
        let old = makeTemporaryDirectory()
        let created = try await python("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.executescript(sys.argv[2])
            db.execute("insert into messages (session, platform, chat, chat_type, user, text, received_usec) values ('local:dm:a', 'local', 'a', 'dm', 'a', 'from v1', 1)")
            db.execute("pragma user_version = 1")
            db.commit()
            """, [old + "/state.db", StateStore.migrations[0]])
        #expect(created.status == 0, "\(created.standardError)")
        let migrated = try openStore(old)
        let recovery = try await migrated.recover(policy: RecoveryPolicy())
        #expect(recovery.replay.map(\.message.text) == ["from v1"])
        #expect(recovery.replay.first?.attempts == 0)

        // Schema 2 (before sender identities): a DM and a restart notice come back without one.
        let second = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: second) }
        let made = try await python("""
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.executescript(sys.argv[2])
            db.executescript(sys.argv[3])
            db.execute("insert into messages (session, platform, chat, chat_type, user, text, received_usec) values ('irc:dm:alice', 'irc', 'alice', 'dm', 'alice', 'from v2', 1)")
            db.execute("insert into restart_notices (platform, chat, requested_usec) values ('irc', 'alice', 1)")
            db.execute("pragma user_version = 2")
            db.commit()
            """, [second + "/state.db", StateStore.migrations[0], StateStore.migrations[1]])
        #expect(made.status == 0, "\(made.standardError)")
        let fromTwo = try await openStore(second).recover(policy: RecoveryPolicy())
        #expect(fromTwo.replay.map(\.message) == [InboundMessage(platform: "irc", chat: "alice", user: "alice", text: "from v2")])
        #expect(fromTwo.restartNotices == [ChatAddress(platform: "irc", chat: "alice")])
    }

    @Test("a corrupt file is moved aside and a fresh store starts; a newer schema leaves no store")
    func badFiles() async throws {
        let directory = makeTemporaryDirectory()
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: directory + "/state.db"))
        let opening = StateStore.open(directory: directory)
        let problem = try #require(opening.problem)
        #expect(problem.contains(directory + "/state.db") && problem.contains("moved to"))
        let store = try #require(opening.store)
        _ = try await store.append(message("fresh"), session: "s")
        let moved = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("state.db.corrupt-") }
        #expect(moved.count == 1)

        let newer = makeTemporaryDirectory()
        _ = try await python("import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute('pragma user_version = 99'); db.commit()",
                       [newer + "/state.db"])
        let refused = StateStore.open(directory: newer)
        #expect(refused.store == nil)
        #expect(refused.problem?.contains("newer gatewayd (schema 99") == true)
        #expect(FileManager.default.fileExists(atPath: newer + "/state.db"), "a newer file is left alone")
    }
}
