import Foundation
import GatewayCore
import GatewayTestSupport
@testable import Platforms
import Testing

/// What the webhook fuzz target (Fuzz/FuzzWebhook) found, over real sockets: each input is also
/// in Fuzz/corpus/webhook, replayed through the embedded pipeline by the corpus tests.
@Suite("Webhook: what the fuzzer found", .timeLimit(.minutes(2)))
struct WebhookFuzzFindingsTests {
    @Test("a request that cannot be parsed is answered 400 once, and its connection closed at once rather than at the head deadline")
    func unparsableRequestCloses() async throws {
        // Deadlines far off: only the close after the 400 can end the connection within the test.
        try await WebhookLimitsTests.withWebhook({ $0.headTimeout = .seconds(90); $0.idleTimeout = .seconds(90) }) { port, _ in
            let (answer, closed, rest): (String?, Bool, [UInt8]) = try await onThread {
                let client = try RawTCPClient(port: port)
                _ = client.send("POST /webh1.1\r\n\r\n")
                let answer = client.receiveResponse()
                // More of the same peer's bytes: before, each was answered with another 400 "close"
                // on a connection that stayed open.
                _ = client.send("Hoook HTTP/1.1\r\nHost: x\r\n\r\n")
                let closed = client.closedByPeer(within: .seconds(30))
                return (answer, closed, client.receive() ?? [])
            }
            #expect(answer?.hasPrefix("HTTP/1.1 400 ") == true, "\(String(describing: answer))")
            #expect(closed, "the connection stayed open after the 400")
            #expect(rest.isEmpty, "more after the 400: \(String(decoding: rest, as: UTF8.self))")
        }
    }
}
