import GatewayCore
import GatewayTestSupport
import Testing
@testable import StateStore

@Suite("State store: the outbound delivery ledger")
struct ReplyLedgerTests {
    let telegram = ChatAddress(platform: "telegram", chat: "42")
    let irc = ChatAddress(platform: "irc", chat: "bob", account: "bob", hostmask: "bob!b@host")

    @Test("unsettled replies come back to the next process in order, with their address and whether a send of theirs began; settled ones do not; each platform its own")
    func unsentComeBack() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            let first = try await store.record("one", to: telegram, answering: [])
            let settled = try await store.record("two", to: telegram, answering: [])
            _ = try await store.record("three", to: telegram, answering: [])
            _ = try await store.record("to irc", to: irc, answering: [])
            await store.beginAttempt(first)
            store.settle(settled)
            // This process's own replies are still being sent: never handed back to it.
            #expect(try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy()) == UnsentReplies())
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let unsent = try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy())
        #expect(unsent.replies.map(\.text) == ["one", "three"])
        #expect(unsent.replies.map(\.attempts) == [1, 0], "one's send had begun; three was still waiting in its lane")
        #expect(unsent.replies.allSatisfy { $0.address == telegram })
        #expect(unsent.abandoned == 0)
        let ircUnsent = try await store.takeUnsent(platform: "irc", policy: LedgerPolicy())
        #expect(ircUnsent.replies.map(\.address) == [irc])
    }

    @Test("a reply is given up after 3 sends begun across restarts, and when older than the policy allows (of any platform)")
    func attemptsAndAge() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            await store.beginAttempt(try await store.record("retried", to: telegram, answering: []))
        }
        var attempts: [Int] = []
        for _ in 0..<3 {
            let store = try #require(StateStore.open(directory: directory).store)
            let unsent = try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy())
            attempts.append(contentsOf: unsent.replies.map(\.attempts))
            if unsent.replies.isEmpty { #expect(unsent.abandoned == 1) }
        }
        #expect(attempts == [1, 2])
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            _ = try await store.record("old", to: telegram, answering: [])
            _ = try await store.record("of a platform no longer configured", to: ChatAddress(platform: "matrix", chat: "!r"), answering: [])
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let unsent = try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy(maxAttempts: 3, maxAge: .zero))
        #expect(unsent.replies.isEmpty)
        #expect(unsent.abandoned == 1)
        #expect(try await store.takeUnsent(platform: "matrix", policy: LedgerPolicy()).replies.isEmpty, "gone for its age")
    }

    @Test("a released reply (known never to have reached the platform) comes back without counting as a possible repeat")
    func releasedIsNoRepeat() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            let id = try await store.record("queued at the stop", to: irc, answering: [])
            await store.beginAttempt(id)
            store.release(id)
            await store.flush()
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let unsent = try await store.takeUnsent(platform: "irc", policy: LedgerPolicy())
        #expect(unsent.replies.map(\.attempts) == [0])
    }

    @Test("a crash mid-turn: the replayed message takes its turn's unsent replies with it (not answered twice); other replies stay")
    func replayForgetsItsReplies() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            let id = try await store.append(InboundMessage(platform: "telegram", chat: "42", user: "7", text: "explain"),
                                            session: "telegram:dm:42")
            store.markActive([id], session: "telegram:dm:42")
            await store.beginAttempt(try await store.record("first line of the answer", to: telegram, answering: [id]))
            _ = try await store.record("an exec command's reply meanwhile", to: telegram, answering: [])
            await store.flush()
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let recovery = try await store.recover(policy: RecoveryPolicy())
        let unsent = try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy())
        #expect(recovery.replay.map(\.message.text) == ["explain"])
        #expect(unsent.replies.map(\.text) == ["an exec command's reply meanwhile"])
    }
}
