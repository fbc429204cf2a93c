import CGatewayShims
import CGatewayTestShims
import Foundation
import GatewayTestSupport
import JSON
import Logging
import Testing
@testable import Varlink
import VarlinkClient
import VarlinkProtocol

/// Opens once, for a test interface's `Wait` call; says when a call has begun waiting.
final class TestGate: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let arrivals: AsyncStream<Void>
    private let arrival: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream<Void>.makeStream()
        (arrivals, arrival) = AsyncStream<Void>.makeStream()
    }

    func open() { continuation.finish() }
    /// Until the gate opens, or the task is cancelled.
    func wait() async {
        arrival.yield()
        for await _ in stream {}
    }
    /// Until the gate opens, whatever cancellation says (a call that ignores it).
    func waitIgnoringCancellation() async { await Task { await wait() }.value }
    /// Returns once a call has begun waiting.
    func arrived() async { for await _ in arrivals { return } }
}

/// A small interface for exercising the server: echo, streams, parameter checks, credentials.
struct TestInterface: VarlinkInterface {
    let name = "org.example.Test"
    let definition = "interface org.example.Test\nmethod Echo(text: string) -> (text: string)\n"
    var gate = TestGate()

    func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: VarlinkReplies) async {
        switch call.memberName {
        case "Echo":
            guard let text = call.parameters["text"]?.string else {
                await replies.send(.error(VarlinkError.invalidParameter, ["parameter": "text"]))
                return
            }
            await replies.send(VarlinkReply(parameters: ["text": .string(text)]))
        case "Count":
            guard call.more else {
                await replies.send(.error(VarlinkError.expectedMore))
                return
            }
            for index in 1...3 {
                await replies.send(VarlinkReply(parameters: ["n": .int(Int64(index))], continues: index < 3))
            }
        case "Whoami":
            await replies.send(VarlinkReply(parameters: ["pid": .int(Int64(peer.pid)), "uid": .int(Int64(peer.uid))]))
        case "Wait":
            // A long call: replies once the test opens the gate.
            await gate.wait()
            await replies.send(VarlinkReply())
        case "WaitIgnoringCancellation":
            await gate.waitIgnoringCancellation()
            await replies.send(VarlinkReply())
        case "Flood":
            // A stream that always has something to say (a Subscribe with events flowing).
            let filler = JSONValue.string(String(repeating: "x", count: 1000))
            var sent: Int64 = 0
            while await replies.send(VarlinkReply(parameters: ["n": .int(sent), "filler": filler], continues: true)) {
                sent += 1
                await Task.yield()
            }
        case "Hold":
            // A stream with one reply, then nothing until it is cancelled (a quiet Subscribe).
            await replies.send(VarlinkReply(parameters: ["held": true], continues: true))
            try? await Task.sleep(for: .seconds(3600))
        default:
            await replies.send(.error(VarlinkError.methodNotFound, ["method": .string(call.method)]))
        }
    }
}

/// A server on a fresh socket path; `body` runs against it, then it shuts down.
func withServer(_ configure: (inout VarlinkServer.Configuration) -> Void = { _ in }, interface: TestInterface = TestInterface(),
                logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), mode: UInt32 = 0o600,
                _ body: (String, VarlinkServer) async throws -> Void) async throws {
    let directory = makeTemporaryDirectory("gatewayd-varlink")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = VarlinkServer.Configuration()
    configure(&configuration)
    let server = VarlinkServer(
        info: VarlinkServiceInfo(vendor: "gatewayd", product: "test", version: "1", url: "https://varlink.org"),
        interfaces: [interface], configuration: configuration, logger: logger)
    let path = directory + "/control"
    try await server.bind(path: path, mode: mode)
    do {
        try await body(path, server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

@Suite("Varlink server", .timeLimit(.minutes(1)))
struct VarlinkServerTests {
    static func echo(_ path: String, _ text: String = "ping") throws -> VarlinkReply {
        // 30 s, as every wait in the tests: suites beside this one flood their own servers on
        // the same two cores (a 5 s bound failed now and then, in the old code as in the new).
        try VarlinkConnection(path: path, timeout: .seconds(30))
            .call(VarlinkCall(method: "org.example.Test.Echo", parameters: ["text": .string(text)]))
    }

    @Test("GetInfo, GetInterfaceDescription, and the standard errors")
    func serviceInterface() async throws {
        try await withServer { path, _ in
            try await onThread {
                let connection = try VarlinkConnection(path: path)
                let info = try connection.call(VarlinkCall(method: "org.varlink.service.GetInfo"))
                #expect(info.error == nil)
                #expect(info.parameters["interfaces"] == ["org.varlink.service", "org.example.Test"])
                #expect(info.parameters["product"] == "test")
                let description = try connection.call(VarlinkCall(
                    method: "org.varlink.service.GetInterfaceDescription", parameters: ["interface": "org.example.Test"]))
                #expect(description.parameters["description"]?.string == TestInterface().definition)
                let missing = try connection.call(VarlinkCall(
                    method: "org.varlink.service.GetInterfaceDescription", parameters: ["interface": "org.example.Nope"]))
                #expect(missing == .error(VarlinkError.interfaceNotFound, ["interface": "org.example.Nope"]))
                #expect(try connection.call(VarlinkCall(method: "org.example.Nope.X")).error == VarlinkError.interfaceNotFound)
                #expect(try connection.call(VarlinkCall(method: "org.example.Test.Nope"))
                    == .error(VarlinkError.methodNotFound, ["method": "org.example.Test.Nope"]))
                #expect(try connection.call(VarlinkCall(method: "org.example.Test.Echo", parameters: ["text": 5]))
                    == .error(VarlinkError.invalidParameter, ["parameter": "text"]))
                #expect(try connection.call(VarlinkCall(method: "org.example.Test.Count")).error == VarlinkError.expectedMore)
            }
        }
    }

    @Test("missing, null and {} parameters are the same; replies to pipelined calls come in order")
    func pipelining() async throws {
        try await withServer { path, _ in
            try await onThread {
                let connection = try VarlinkConnection(path: path)
                let batch = #"{"method":"org.example.Test.Echo","parameters":{"text":"a"}}"# + "\0"
                    + #"{"method":"org.varlink.service.GetInfo"}"# + "\0"
                    + #"{"method":"org.varlink.service.GetInfo","parameters":null}"# + "\0"
                    + #"{"method":"org.example.Test.Echo","parameters":{"text":"b"},"oneway":true}"# + "\0"
                    + #"{"method":"org.varlink.service.GetInfo","parameters":{}}"# + "\0"
                    + #"{"method":"org.example.Test.Echo","parameters":{"text":"c"}}"# + "\0"
                try connection.sendRaw(Array(batch.utf8))
                #expect(try connection.receive().parameters["text"] == "a")
                for _ in 0..<3 { #expect(try connection.receive().parameters["vendor"] == "gatewayd") }
                // The oneway call got no reply: the next one is "c".
                #expect(try connection.receive().parameters["text"] == "c")
            }
        }
    }

    @Test("a more call streams with continues until the last reply")
    func streams() async throws {
        try await withServer { path, _ in
            try await onThread {
                var seen: [JSONValue] = []
                try VarlinkConnection(path: path).stream(VarlinkCall(method: "org.example.Test.Count")) { reply in
                    seen.append(reply.parameters["n"] ?? nil)
                    return true
                }
                #expect(seen == [1, 2, 3])
            }
        }
    }

    @Test("peer credentials come from SO_PEERCRED")
    func credentials() async throws {
        try await withServer { path, _ in
            try await onThread {
                let reply = try VarlinkConnection(path: path).call(VarlinkCall(method: "org.example.Test.Whoami"))
                #expect(reply.parameters["pid"]?.int == Int64(getpid()))
                #expect(reply.parameters["uid"]?.int == Int64(getuid()))
            }
        }
    }

    @Test("the socket file gets its mode, and a stale one is replaced")
    func socketFile() async throws {
        let directory = makeTemporaryDirectory("gatewayd-varlink")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/control"
        // A stale socket left by a crashed daemon.
        let stale = gw_unix_bind(path, 1)
        close(stale)
        let server = VarlinkServer(info: VarlinkServiceInfo(vendor: "v", product: "p", version: "1", url: "u"), interfaces: [])
        try await server.bind(path: path, mode: 0o640)
        var info = stat()
        stat(path, &info)
        #expect(info.st_mode & 0o777 == 0o640)
        #expect(try VarlinkConnection(path: path).call(VarlinkCall(method: "org.varlink.service.GetInfo")).error == nil)
        await server.shutdown()
    }

    @Test("bad input closes that connection only", arguments: [
        "{not json", "[1,2]", #"{"parameters":{}}"#, #"{"method":"a.b","parameters":[1]}"#, "\u{FF}\u{FE}",
    ])
    func badInput(_ input: String) async throws {
        try await withServer { path, _ in
            try await onThread {
                let connection = try VarlinkConnection(path: path, timeout: .seconds(5))
                try connection.sendRaw(Array(input.utf8) + [0])
                #expect(throws: VarlinkClientError.self) { try connection.receive() }
                #expect(try Self.echo(path).parameters["text"] == "ping")
            }
        }
    }

    @Test("invalid UTF-8 bytes are refused without a crash")
    func invalidUTF8() async throws {
        try await withServer { path, _ in
            try await onThread {
                let connection = try VarlinkConnection(path: path, timeout: .seconds(5))
                try connection.sendRaw(Array(#"{"method":"org.example.Test.Echo","parameters":{"text":""#.utf8) + [0xC3, 0x28, 0xFF] + Array(#""}}"#.utf8) + [0])
                #expect(throws: VarlinkClientError.self) { try connection.receive() }
                #expect(try Self.echo(path).error == nil)
            }
        }
    }

    @Test("a message over the size limit closes the connection; others go on")
    func oversized() async throws {
        try await withServer { path, _ in
            try await onThread {
                let connection = try VarlinkConnection(path: path, timeout: .seconds(10))
                let huge = [UInt8](repeating: UInt8(ascii: "x"), count: 10 << 20)
                // The server may close while we are still writing: either way, no reply.
                do {
                    try connection.sendRaw(huge + [0])
                    _ = try connection.receive()
                    Issue.record("a 10 MiB message got a reply")
                } catch {}
                #expect(try Self.echo(path).error == nil)
            }
        }
    }

    // This was one test with a 3 s stall timeout that checked, with a zero-timeout poll after
    // another client's round trip, that the staller was still connected. The server's timer
    // starts when it reads the half message; the check came after a connect, a call and a
    // reply on a second connection. On a loaded machine (the suite runs its tests side by side,
    // the 1,000-connection and 10 MiB tests among them, on 2 shared cores) that took longer than
    // the 3 s, the staller had been dropped already, and the poll saw end of file
    // (`.protocolError`, not `.timedOut`): the test raced the very timer it was checking. Now
    // "delays nobody" runs under a timeout far past the test's own time limit, and "is dropped"
    // waits for the drop and checks that it did not come early.
    @Test("a client that stalls mid-message delays nobody")
    func stalledClientDelaysNobody() async throws {
        try await withServer({ $0.stallTimeout = .seconds(600) }) { path, _ in
            try await onThread {
                let staller = try VarlinkConnection(path: path, timeout: .seconds(10))
                try staller.sendRaw(Array(#"{"method":"org.example.Test.Ec"#.utf8))
                // Another client is answered while the staller still holds its half message.
                #expect(try Self.echo(path).error == nil)
                staller.setTimeout(.zero)
                let waiting = #expect(throws: VarlinkClientError.self) { try staller.receiveFrame() }
                // (errno says which end is gone if this fails: EBADF would be a descriptor closed
                // twice elsewhere in the test process, not the server.)
                #expect(waiting?.code == .timedOut, "still connected, no reply: \(waiting?.message ?? "") errno \(waiting?.errno ?? 0)")
            }
        }
    }

    @Test("a client that stalls mid-message is dropped once the stall timeout has passed, and it is logged")
    func stalledClientDropped() async throws {
        let log = LogRecorder()
        let timeout = Duration.milliseconds(500)
        try await withServer({ $0.stallTimeout = .milliseconds(500) }, logger: log.logger()) { path, server in
            try await onThread {
                let staller = try VarlinkConnection(path: path, timeout: .seconds(20))
                let started = ContinuousClock.now
                try staller.sendRaw(Array(#"{"method":"org.example.Test.Ec"#.utf8))
                let dropped = #expect(throws: VarlinkClientError.self) { try staller.receiveFrame() }
                #expect(dropped?.code == .protocolError, "end of file, no reply")
                #expect(ContinuousClock.now - started >= timeout, "not before the stall timeout")
            }
            await server.quiesced()
        }
        #expect(log.messages(event: "connection_closed").contains { $0.contains("stalled mid-message") })
    }

    @Test("1,000 connections at once: past the limit they are closed, and the server still answers")
    func manyConnections() async throws {
        try await withServer({ $0.maxConnections = 256 }) { path, _ in
            try await onThread {
                ProcessRunnerLimit.raise()
                var connections: [VarlinkConnection] = []
                for _ in 0..<1000 { connections.append(try VarlinkConnection(path: path, timeout: .seconds(10))) }
                var answered = 0
                for connection in connections.prefix(300) {
                    if let reply = try? connection.call(VarlinkCall(method: "org.varlink.service.GetInfo")), reply.error == nil {
                        answered += 1
                    }
                }
                #expect(answered == 256, "the first 256 are served, the rest closed")
                connections.removeAll()
                // Once they are gone, a fresh client is served again.
                var reply: VarlinkReply?
                for _ in 0..<50 where reply == nil {
                    reply = try? Self.echo(path)
                    // The server learns of 1,000 closes asynchronously; no event to await from a client.
                    if reply == nil { usleep(20_000) }
                }
                #expect(reply?.parameters["text"] == "ping")
            }
        }
    }

    @Test("a client that disconnects mid-stream does not disturb the server")
    func disconnectMidStream() async throws {
        try await withServer { path, _ in
            try await onThread {
                do {
                    let connection = try VarlinkConnection(path: path)
                    try connection.send(VarlinkCall(method: "org.example.Test.Count", more: true))
                }
                #expect(try Self.echo(path).parameters["text"] == "ping")
            }
        }
    }
}

/// Raises RLIMIT_NOFILE for the 1,000-connection test (both ends live in this process).
enum ProcessRunnerLimit {
    static func raise() {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}
