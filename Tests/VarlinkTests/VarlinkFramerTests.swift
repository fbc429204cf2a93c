import GatewayTestSupport
import NIOCore
import Testing
@testable import Varlink
import VarlinkProtocol

/// Synchronous and CPU-bound: on a thread of its own, not one of the cooperative pool's two.
@Suite("Varlink framing", .ownThread)
struct VarlinkFramerTests {
    static func feed(_ framer: inout VarlinkFramer, _ bytes: [UInt8], chunk: Int) throws -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            var buffer = ByteBuffer(bytes: bytes[offset..<end])
            try framer.append(&buffer)
            while let message = try framer.next() { messages.append(Array(message.readableBytesView)) }
            offset = end
        }
        return messages
    }

    @Test("messages split at NULs, whatever the read sizes", arguments: [1, 2, 3, 7, 64, 4096])
    func splits(chunk: Int) throws {
        let stream = Array("{\"a\":1}\0\0{\"b\":\"x\"}\0{}\0partial".utf8)
        var framer = VarlinkFramer(maxMessageSize: 100)
        let messages = try Self.feed(&framer, stream, chunk: chunk)
        #expect(messages.map { String(decoding: $0, as: UTF8.self) } == ["{\"a\":1}", "", "{\"b\":\"x\"}", "{}"])
        #expect(framer.bufferedBytes == "partial".utf8.count)
        #expect(try framer.hasMessage() == false)
    }

    @Test("a message over the limit is refused, one at the limit is not")
    func sizeLimit() throws {
        var framer = VarlinkFramer(maxMessageSize: 10)
        #expect(try Self.feed(&framer, Array(repeating: 0x61, count: 10) + [0], chunk: 3).first?.count == 10)
        var over = VarlinkFramer(maxMessageSize: 10)
        #expect(throws: VarlinkProtocolError.self) { try Self.feed(&over, Array(repeating: 0x61, count: 11), chunk: 1) }
        var overWithEnd = VarlinkFramer(maxMessageSize: 10)
        #expect(throws: VarlinkProtocolError.self) { try Self.feed(&overWithEnd, Array(repeating: 0x61, count: 11) + [0], chunk: 64) }
    }

    @Test("a 64 KiB message in 1-byte reads, a 1 MiB one in 64-byte reads: every byte is looked at once",
          arguments: [(1, 64 << 10), (64, 1 << 20)])
    func linear(chunk: Int, size: Int) throws {
        var framer = VarlinkFramer(maxMessageSize: size)
        let messages = try Self.feed(&framer, Array(repeating: 0x20, count: size) + [0], chunk: chunk)
        #expect(messages.count == 1 && messages.first?.count == size)
        // Rescanning from the start on every read would be about size²/(2·chunk) bytes.
        #expect(framer.bytesExamined == size + 1)
    }
}

@Suite("Varlink replies as the client reads them")
struct VarlinkReplyDecodingTests {
    @Test("a field of the wrong type is a malformed reply: an error that is not a string never reads as success")
    func wrongTypes() throws {
        for text in [#"{"error":5,"parameters":{}}"#, #"{"parameters":[]}"#, #"{"parameters":{},"continues":"yes"}"#, "[]"] {
            #expect(throws: (any Error).self, "\(text)") { try VarlinkCoding.decodeReply(Array(text.utf8)) }
        }
        let reply = try VarlinkCoding.decodeReply(Array(#"{"error":"org.varlink.service.MethodNotFound","parameters":{"method":"x"}}"#.utf8))
        #expect(reply.error == "org.varlink.service.MethodNotFound")
        #expect(try VarlinkCoding.decodeReply(Array("{}".utf8)).error == nil)
    }
}
