import NIOCore
import NIOEmbedded
@testable import Platforms
import Testing

/// What a hostile or broken IRC server can send the line decoder.
@Suite("IRC line decoder: a server's bytes, bounded")
struct IRCLineDecoderTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(IRCLineDecoder()))
        return channel
    }

    @Test("CRLF and bare LF end lines; NUL and invalid UTF-8 are kept as U+FFFD-safe text, never a dropped line")
    func lines() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(bytes: Array("PING :a\r\nPING :b\n:s PRIVMSG #c :x\0y ".utf8) + [0xff, 0xfe] + Array("\r\n".utf8)))
        #expect(try channel.readInbound(as: String.self) == "PING :a")
        #expect(try channel.readInbound(as: String.self) == "PING :b")
        #expect(try channel.readInbound(as: String.self) == ":s PRIVMSG #c :x\0y \u{FFFD}\u{FFFD}")
        _ = try channel.finish()
    }

    @Test("a line past 8 KiB is refused whether it comes in pieces or in one read with its newline", arguments: [false, true])
    func longLine(oneRead: Bool) throws {
        let channel = try channel()
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        if oneRead {
            #expect(throws: PlatformError.self) { try channel.writeInbound(ByteBuffer(bytes: long + Array("\r\n".utf8))) }
        } else {
            #expect(throws: PlatformError.self) {
                for start in stride(from: 0, to: long.count, by: 4096) {
                    try channel.writeInbound(ByteBuffer(bytes: long[start..<(start + 4096)]))
                }
            }
        }
        _ = try? channel.finish()
    }
}
