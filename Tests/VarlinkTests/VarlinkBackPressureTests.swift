import Foundation
import GatewayTestSupport
import JSON
import Testing
@testable import Varlink
import VarlinkClient
import VarlinkProtocol

/// Every connection is bounded both ways: what a peer pipelines stays in the kernel while calls
/// wait, a peer that does not read its replies is dropped, and a stream ends with its connection.
@Suite("Varlink server: back-pressure and streams", .timeLimit(.minutes(1)))
struct VarlinkBackPressureTests {
    /// An echo call of about 1 KiB: the kernel's socket buffers hold a few hundred of them.
    static let text = String(repeating: "p", count: 1000)
    static let echo = RawPeer.call("org.example.Test.Echo", ["text": .string(text)])

    @Test("calls pipelined behind a running one stop being read (the peer's writes block), and are all answered after")
    func inboundWaitsInTheKernel() async throws {
        let interface = TestInterface()
        try await withServer({ $0.maxPendingInput = 16 << 10 }, interface: interface) { path, _ in
            let peer = try RawPeer(path: path)
            let accepted = try await onThread { () throws -> Int in
                guard peer.write(RawPeer.call("org.example.Test.Wait")) else { throw TestFailure("closed") }
                // Pipelines echo calls until the socket takes no more for a while (at most 32 MiB).
                let batch = Array([[UInt8]](repeating: Self.echo, count: 64).joined())
                var written = 0
                while written < 32 << 20 {
                    let n = peer.writeWithoutBlocking(batch[(written % batch.count)...])
                    written += n
                    if n == 0 && !peer.waitWritable(timeout: .milliseconds(500)) { break }
                }
                return written
            }
            // Unbounded, the server would have read all 32 MiB; bounded, it stopped after its
            // 16 KiB and the socket buffers filled (a few hundred KiB on Linux).
            #expect(accepted < 4 << 20, "the server read \(accepted) bytes while a call was running")
            interface.gate.open()
            let replies = try await onThread { () throws -> Int in
                // Finish the last, partly written call, then every call is answered, in order.
                let partial = accepted % Self.echo.count
                if partial > 0 { guard peer.write(Array(Self.echo[partial...])) else { throw TestFailure("closed") } }
                let calls = 1 + (accepted + Self.echo.count - 1) / Self.echo.count
                var reader = FrameReader(fd: peer.fd)
                var answered = 0
                while answered < calls, let frame = reader.next() {
                    let reply = try VarlinkCoding.decodeReply(frame)
                    if answered > 0 && reply.parameters["text"]?.string != Self.text { throw TestFailure("reply \(answered): \(reply)") }
                    answered += 1
                }
                return answered - calls
            }
            #expect(replies == 0, "every pipelined call was answered")
        }
    }

    @Test("a peer that pipelines calls and never reads is disconnected past the unread-reply limit, with a log line")
    func outboundLimit() async throws {
        let log = LogRecorder()
        try await withServer({ $0.maxUnwrittenOutput = 64 << 10 }, logger: log.logger()) { path, server in
            let closed = try await onThread { () throws -> Bool in
                let peer = try RawPeer(path: path)
                let call = RawPeer.call("org.example.Test.Echo", ["text": .string(String(repeating: "y", count: 1000))])
                // 20,000 calls, about 20 MiB of replies that are never read.
                for _ in 0..<20_000 where !peer.write(call) { return true }
                return peer.waitForEndOfFile(timeout: .seconds(30))
            }
            #expect(closed, "the server kept the connection and buffered its replies")
            #expect(await finishes(within: .seconds(30)) { await server.quiesced() })
            #expect(server.connectionCount == 0)
        }
        #expect(log.messages(event: "connection_closed").contains { $0.contains("bytes of replies unread") })
    }

    @Test("a stream to a peer that stops reading is closed, not buffered for: its task ends")
    func streamToPeerThatStopsReading() async throws {
        try await withServer({ $0.maxUnwrittenOutput = 64 << 10 }) { path, server in
            let peer = try RawPeer(path: path)
            try await onThread {
                guard peer.write(RawPeer.call("org.example.Test.Flood", more: true)) else { throw TestFailure("closed") }
            }
            // The stream produces for as long as it is allowed to; the peer reads nothing. First
            // the server's close (before it, `quiesced` may find a server that has not even
            // accepted the connection yet, and return at once), then its winding down.
            #expect(try await onThread { peer.waitForEndOfFile(timeout: .seconds(30)) })
            #expect(await finishes(within: .seconds(30)) { await server.quiesced() }, "the Flood stream still runs")
            #expect(server.streamCount == 0)
        }
    }

    @Test("oneway with more is a protocol error: the connection closes and no stream starts")
    func onewayWithMore() async throws {
        try await withServer { path, server in
            let peer = try RawPeer(path: path)
            let closed = try await onThread { () throws -> Bool in
                guard peer.write(RawPeer.call("org.example.Test.Hold", more: true, oneway: true)) else { return true }
                return peer.waitForEndOfFile(timeout: .seconds(30))
            }
            #expect(closed)
            #expect(await finishes(within: .seconds(30)) { await server.quiesced() })
            #expect(server.streamCount == 0)
            #expect(try await onThread { try VarlinkServerTests.echo(path).parameters["text"] } == "ping")
        }
        #expect(throws: VarlinkProtocolError(VarlinkError.onewayWithMore)) {
            try VarlinkCoding.decodeCall(Array(#"{"method":"a.B","oneway":true,"more":true}"#.utf8))
        }
    }

    @Test("200 streams whose peers leave without a word all end: no task is left behind")
    func streamsEndWithTheirConnection() async throws {
        // Each peer leaves as the next one comes: on a loaded machine the server may not have
        // seen the last 32 leave yet, and a 33rd from the same user would be refused (a
        // different test: "a user who opens 300 connections holds 32").
        try await withServer({ $0.maxConnectionsPerUID = 256 }) { path, server in
            try await onThread {
                for _ in 0..<200 {
                    let connection = try VarlinkConnection(path: path, timeout: .seconds(30))
                    try connection.send(VarlinkCall(method: "org.example.Test.Hold", more: true))
                    // The stream runs (its first reply came), then the peer goes.
                    guard try connection.receive().parameters["held"] == true else { throw TestFailure("no first reply") }
                }
            }
            #expect(await finishes(within: .seconds(30)) { await server.quiesced() }, "\(server.streamCount) streams left")
            #expect(server.streamCount == 0)
            #expect(server.connectionTaskCount == 0)
        }
    }
}

/// Reads NUL-terminated frames from a blocking descriptor.
struct FrameReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = buffer[start...].firstIndex(of: 0) {
                let frame = Array(buffer[start..<end])
                start = end + 1
                if start > 1 << 20 { buffer.removeFirst(start); start = 0 }
                return frame
            }
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffer += chunk[0..<n]
        }
    }
}
