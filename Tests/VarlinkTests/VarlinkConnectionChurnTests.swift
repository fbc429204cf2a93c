import GatewayTestSupport
import Testing
@testable import Varlink
import VarlinkClient
import VarlinkProtocol

/// A local user who connects, calls and closes in a loop must not grow the daemon's memory: each
/// closed connection's handler, pipeline and buffers are freed, and its table entries removed.
@Suite("Varlink server: connections closed leave nothing behind", .timeLimit(.minutes(1)))
struct VarlinkConnectionChurnTests {
    static let cycles = 5000

    @Test("5,000 connections, each opened, called once and closed: every handler is freed and every table emptied")
    func churnLeavesNothing() async throws {
        // Sequential connections of one uid: a close the server has not seen yet must not refuse
        // the next connection, so the per-uid limit is not what is tested here.
        try await withServer({ $0.maxConnectionsPerUID = 1024; $0.maxConnections = 2048 }) { path, server in
            let failures = try await onThread { () -> Int in
                var failures = 0
                for _ in 0..<Self.cycles {
                    let connection = try VarlinkConnection(path: path, timeout: .seconds(10))
                    let reply = try? connection.call(VarlinkCall(method: "org.example.Test.Echo", parameters: ["text": "churn"]))
                    if reply?.parameters["text"]?.string != "churn" { failures += 1 }
                }
                return failures
            }
            #expect(failures == 0, "calls not answered")
            // A handler kept past its connection (a reference cycle) never lets this return.
            let quiet = await finishes(within: .seconds(30)) { await server.quiesced() }
            #expect(quiet, "\(server.connectionHandlerCount) handlers and \(server.connectionTaskCount) tasks of \(Self.cycles) closed connections left")
            #expect(server.connectionHandlerCount == 0)
            #expect(server.connectionTaskCount == 0)
            #expect(server.connectionCount == 0)
        }
    }
}
