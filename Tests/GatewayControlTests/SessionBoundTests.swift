import GatewayControl
import GatewayCore
import GatewayTestSupport
import GatewayWire
import JSON
import Testing
import VarlinkClient
import VarlinkProtocol

/// `sessions.max` seen from the control socket: distinct senders through `SendMessage` leave at
/// most `max` sessions in `ListSessions` and `GetStatus`, and a reload's lower `max` applies live.
@Suite("Bounded sessions over the control socket", .timeLimit(.minutes(1)))
struct SessionBoundTests {
    @Test("sessions.max: 100 and 1,000 senders through SendMessage: ListSessions holds at most 100; a reload to 10 applies at once")
    func boundedOverSocket() async throws {
        let gateway = try await Gateway.start(yaml: "sessions: {max: 100}")
        defer { Task { await gateway.stop() } }
        let socket = gateway.socket
        let answered = try await onThread {
            let connection = try VarlinkConnection(path: socket, timeout: .seconds(10))
            var answered = 0
            for index in 0..<1_000 {
                let reply = try connection.call(VarlinkCall(
                    method: Wire.Method.sendMessage.qualified, parameters: ["text": "hi", "chat": .string("sender\(index)")]))
                if reply.parameters["replies"] == ["echo: hi"] { answered += 1 }
            }
            return answered
        }
        #expect(answered == 1_000)
        let sessions = try await gateway.call(.listSessions).parameters["sessions"]?.array ?? []
        #expect(sessions.count == 100)
        #expect(sessions.first?.object?["key"] == "local:dm:sender900")
        #expect(try await gateway.call(.getStatus).parameters["status"]?.object?["sessions"] == 100)

        try gateway.writeConfig("sessions: {max: 10}")
        #expect(try await gateway.call(.reload).error == nil)
        let after = try await gateway.call(.listSessions).parameters["sessions"]?.array ?? []
        #expect(after.compactMap { $0.object?["key"]?.string } == (990..<1_000).map { "local:dm:sender\($0)" })
    }
}
