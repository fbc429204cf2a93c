import GatewayCore
import GatewayTestSupport
import Testing
@testable import StateStore

@Suite("State store: the outbound delivery ledger")
struct ReplyLedgerTests {
    let telegram = ChatAddress(platform: "telegram", chat: "42")
    let irc = ChatAddress(platform: "irc", chat: "bob", account: "bob", hostmask: "bob!b@host")

    @Test("unsettled replies come back to the next process in order, with their address; settled ones do not; each platform its own")
    func unsentComeBack() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            let first = try await store.record("one", to: telegram)
            let settled = try await store.record("two", to: telegram)
            _ = try await store.record("three", to: telegram)
            _ = try await store.record("to irc", to: irc)
            store.settle(settled)
            // This process's own replies are still being sent: never handed back to it.
            #expect(try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy()) == UnsentReplies())
            #expect(first > 0)
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let unsent = try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy())
        #expect(unsent.replies.map(\.text) == ["one", "three"])
        #expect(unsent.replies.allSatisfy { $0.address == telegram && $0.attempts == 1 })
        #expect(unsent.abandoned == 0)
        let ircUnsent = try await store.takeUnsent(platform: "irc", policy: LedgerPolicy())
        #expect(ircUnsent.replies.map(\.address) == [irc])
    }

    @Test("a reply is given up after 3 attempts (the first included) across restarts, and when older than the policy allows")
    func attemptsAndAge() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            _ = try await store.record("retried", to: telegram)
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
            _ = try await store.record("old", to: telegram)
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let unsent = try await store.takeUnsent(platform: "telegram", policy: LedgerPolicy(maxAttempts: 3, maxAge: .zero))
        #expect(unsent.replies.isEmpty)
        #expect(unsent.abandoned == 1)
    }

    @Test("a released reply (known never to have reached the platform) comes back without counting as a possible repeat")
    func releasedIsNoRepeat() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            let id = try await store.record("queued at the stop", to: irc)
            store.release(id)
            await store.flush()
        }
        let store = try #require(StateStore.open(directory: directory).store)
        let unsent = try await store.takeUnsent(platform: "irc", policy: LedgerPolicy())
        #expect(unsent.replies.map(\.attempts) == [0])
    }
}
