// libFuzzer target: what an IRC server sends: the byte stream cut into lines by the adapter's
// line decoder (through an embedded NIO pipeline, in any pieces), each line parsed, written back
// as the adapter writes lines, and split into PRIVMSG texts as replies are. See FuzzJSON for the
// two builds.
import FuzzReplay
import NIOCore
import NIOEmbedded
import Platforms

/// The input's first byte picks how the rest is cut into reads. What must hold: nothing traps;
/// an encoded line is one line of at most 512 bytes with no CR, LF or NUL before its CRLF; it
/// parses back to the same command and parameters when nothing had to be cleaned out of the
/// last one; each PRIVMSG part fits and encodes.
func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let seed = input.first else { return }
    for line in lines(FuzzReplay.pieces(Array(input.dropFirst()), seed: seed)) {
        guard let message = IRCMessage(line: line) else { continue }
        guard !message.command.isEmpty, !message.command.contains(" "),
              !message.parameters.dropLast().contains(where: { $0.isEmpty || $0.contains(" ") || $0.hasPrefix(":") })
        else { fatalError("parsed a malformed message from \(line.debugDescription): \(message)") }
        roundTrip(message)
        if let text = message.parameters.last {
            // 4 bytes up (ReplySplitter's floor: one character of any size); the adapter asks 64 to 400.
            let room = 4 + Int(seed)
            for part in IRCText.privmsgParts(text, maxBytes: room) {
                guard !part.isEmpty, part.utf8.count <= room, !part.unicodeScalars.contains(where: { IRCText.isLineBreak($0) || $0 == "\0" })
                else { fatalError("a PRIVMSG part that does not fit or breaks a line: \(part.debugDescription)") }
                roundTrip(IRCMessage(command: "PRIVMSG", parameters: ["#fuzz", part]))
            }
        }
    }
}

/// The lines the adapter's decoder cuts from `reads` (until it refuses an overlong line).
func lines(_ reads: [ArraySlice<UInt8>]) -> [String] {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(IRCLineDecoder()))
    var lines: [String] = []
    defer { _ = try? channel.finish() }
    for read in reads {
        do {
            try channel.writeInbound(ByteBuffer(bytes: read))
        } catch {
            break
        }
        while let line = try? channel.readInbound(as: String.self) { lines.append(line) }
    }
    return lines
}

/// Encodes `message` (when it can be) and checks the wire form.
func roundTrip(_ message: IRCMessage) {
    guard let buffer = try? message.encoded() else { return }
    let bytes = Array(buffer.readableBytesView)
    guard bytes.count <= IRCMessage.maxLineBytes, bytes.suffix(2) == [13, 10] else { fatalError("a line too long or without CRLF") }
    let body = bytes.dropLast(2)
    guard !body.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else { fatalError("CR, LF or NUL inside a line: \(bytes)") }
    guard let again = IRCMessage(line: String(decoding: body, as: UTF8.self)) else { fatalError("an encoded line does not parse") }
    guard again.command == message.command, again.parameters.dropLast() == message.parameters.dropLast(),
          again.parameters.count == message.parameters.count
    else { fatalError("re-parsed differently: \(message) -> \(again)") }
    if let last = message.parameters.last, Array(last.utf8) == IRCText.clean(last, maxBytes: .max), again.parameters.last != last {
        // Nothing to clean: only a cut to 512 bytes may change it, and only to a prefix.
        guard body.count >= IRCMessage.maxLineBytes - 2 - 3, let shorter = again.parameters.last,
              last.utf8.starts(with: shorter.utf8)
        else { fatalError("the last parameter changed: \(last.debugDescription) -> \(String(describing: again.parameters.last))") }
    }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzIRC_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
