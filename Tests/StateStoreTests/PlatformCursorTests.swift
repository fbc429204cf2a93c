import GatewayCore
import GatewayTestSupport
import Testing
@testable import StateStore

@Suite("State store: platform cursors")
struct PlatformCursorTests {
    @Test("a stored cursor survives a new connection; a later one replaces it; keys are apart")
    func cursorsSurvive() async throws {
        let directory = makeTemporaryDirectory()
        do {
            let store = try #require(StateStore.open(directory: directory).store)
            #expect(try await store.cursor(for: "telegram:4242") == nil)
            try await store.setCursor("1001", for: "telegram:4242")
            try await store.setCursor("1005", for: "telegram:4242")
            try await store.setCursor("7", for: "telegram:99")
        }
        let store = try #require(StateStore.open(directory: directory).store)
        #expect(try await store.cursor(for: "telegram:4242") == "1005")
        #expect(try await store.cursor(for: "telegram:99") == "7")
        #expect(try await store.cursor(for: "matrix:@bot:example.org") == nil)
    }
}
