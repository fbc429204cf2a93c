import GatewayCore
import GatewayTestSupport
@testable import Platforms
import Testing

/// The webhook's stop in a daemon whose event loops outlive it: the listener closing is not
/// enough, every connection must close with it, or keep-alive senders go on being served (their
/// deliveries dispatched, exec quick commands run) after the drain and the store's last write.
@Suite("Webhook stop", .timeLimit(.minutes(1)))
struct WebhookStopTests {
    static func post(_ text: String, id: String) -> String {
        let body = #"{"chat":"deploys","user":"ops","text":"\#(text)","id":"\#(id)"}"#
        return WebhookLimitsTests.post(body, headers: ["X-Hub-Signature-256: \(WebhookLimitsTests.signature(Array(body.utf8)))"])
    }

    /// A webhook in front of a recording dispatcher with one exec quick command.
    static func start() async throws -> (WebhookAdapter, RecordingInbound, Int) {
        let dispatcher = await runningDispatcher("""
            quick_commands: {up: {type: exec, command: "echo up"}}
            access: {allowed_users: ["webhook:*"], admins: ["webhook:ops"]}
            """)
        let inbound = RecordingInbound(dispatcher)
        var configuration = WebhookConfiguration(host: "127.0.0.1", port: 0, secret: WebhookLimitsTests.secret)
        // No deadline closes a connection during the test: only the stop can.
        configuration.idleTimeout = .seconds(600)
        configuration.headTimeout = .seconds(600)
        let adapter = WebhookAdapter(configuration: configuration)
        try await adapter.start(inbound: inbound)
        return (adapter, inbound, try #require(adapter.boundPort))
    }

    /// A keep-alive connection with one delivery answered 200 on it (and that answer).
    /// A receive that times out (15 s) returns nil; the end of the connection, no bytes.
    static func deliveredOnce(_ port: Int) async throws -> (RawTCPClient, String?) {
        let client = try await onThread { try RawTCPClient(port: port, timeout: .seconds(15)) }
        let before: String? = try await onThread {
            _ = client.send(Self.post("/up", id: "before"))
            return client.receiveResponse()
        }
        #expect(before?.hasPrefix("HTTP/1.1 200") == true, "\(before ?? "no answer")")
        return (client, before)
    }

    @Test("a keep-alive connection opened before the stop is closed by it: no delivery on it is answered or dispatched after")
    func keepAliveClosedByStop() async throws {
        let (adapter, inbound, port) = try await Self.start()
        let (client, before) = try await Self.deliveredOnce(port)
        #expect(before?.contains("connection: close") == false, "kept alive")
        await adapter.stop()
        let (closed, after): (Bool, String?) = try await onThread {
            let closed = client.receive(upTo: 1) == []
            _ = client.send(Self.post("/up", id: "after"))
            return (closed, client.receiveResponse())
        }
        #expect(closed, "the connection outlived the stop")
        #expect(after == nil || after?.hasPrefix("HTTP/1.1 503") == true, "served after the stop: \(after ?? "")")
        #expect(inbound.messages.map(\.text) == ["/up"], "dispatched after the stop")
    }

    @Test("a request that comes while the webhook stops is answered 503, not dispatched, and its connection closed")
    func requestWhileStopping() async throws {
        let (adapter, inbound, port) = try await Self.start()
        let (client, _) = try await Self.deliveredOnce(port)
        // The moment between the stop's start and its closing this connection.
        _ = adapter.connections.stop()
        let (during, closed): (String?, Bool) = try await onThread {
            _ = client.send(Self.post("/up", id: "during"))
            return (client.receiveResponse(), client.receive(upTo: 1) == [])
        }
        #expect(during?.hasPrefix("HTTP/1.1 503") == true, "\(during ?? "no answer")")
        #expect(during?.contains(WebhookConfiguration.stoppingMessage) == true)
        #expect(closed)
        #expect(inbound.messages.map(\.text) == ["/up"])
        await adapter.stop()
    }
}
