import NIOCore

/// One IRC protocol line (RFC 1459/2812 with IRCv3 message tags):
/// `[@tags] [:prefix] COMMAND params... [:trailing]`.
///
/// `encoded()` is the only way the adapter turns a message into bytes, so it is where the wire
/// is kept safe: whatever a parameter holds (agent output, a command's output, a nick from the
/// network, a channel from the config), no CR, LF or NUL reaches the server and no line is
/// longer than 512 bytes.
package struct IRCMessage: Equatable, Sendable {
    /// IRCv3 tags (`account`, `time`, ...), values unescaped; empty without any.
    package var tags: [String: String] = [:]
    package var prefix: String?
    package var command: String
    package var parameters: [String]

    /// The nick of `nick!user@host`.
    package var senderNick: String? {
        prefix.map { String(Substring($0.unicodeScalars.prefix { $0 != "!" && $0 != "@" })) }
    }

    package init(prefix: String? = nil, command: String, parameters: [String]) {
        self.prefix = prefix
        self.command = command
        self.parameters = parameters
    }

    /// nil for an empty or malformed line.
    ///
    /// Read by Unicode scalars, never by characters: the protocol's separators are bytes, and a
    /// `:` or a space followed by a combining mark is one Swift character that is neither, so a
    /// trailing parameter starting with an accent was split at its spaces into middle ones (and
    /// kept its colon), and `nick!user` followed by one lost its `!` (the irc fuzz target's
    /// finding).
    package init?(line: String) {
        var rest = Substring(line).unicodeScalars
        if rest.first == "@" {
            guard let space = rest.firstIndex(of: " ") else { return nil }
            tags = Self.parseTags(rest[rest.index(after: rest.startIndex)..<space])
            rest = Self.droppingSpaces(rest[space...])
        }
        if rest.first == ":" {
            guard let space = rest.firstIndex(of: " ") else { return nil }
            prefix = String(Substring(rest[rest.index(after: rest.startIndex)..<space]))
            rest = Self.droppingSpaces(rest[space...])
        } else {
            prefix = nil
        }
        var parameters: [String] = []
        var command: String?
        while !rest.isEmpty {
            if rest.first == ":" && command != nil {
                parameters.append(String(Substring(rest.dropFirst())))
                break
            }
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            let word = String(Substring(rest[..<end]))
            if command == nil { command = word.uppercased() } else { parameters.append(word) }
            rest = Self.droppingSpaces(rest[end...])
        }
        guard let command, !command.isEmpty else { return nil }
        self.command = command
        self.parameters = parameters
    }

    private static func droppingSpaces(_ text: Substring.UnicodeScalarView) -> Substring.UnicodeScalarView {
        text[(text.firstIndex { $0 != " " } ?? text.endIndex)...]
    }

    /// `key=value;key2;...` with the IRCv3 escapes (`\:` `;`, `\s` space, `\\`, `\r`, `\n`).
    private static func parseTags(_ text: Substring.UnicodeScalarView) -> [String: String] {
        var tags: [String: String] = [:]
        for item in text.split(separator: ";") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard let key = parts.first, !key.isEmpty else { continue }
            var value = String.UnicodeScalarView()
            var escaped = false
            for scalar in parts.count > 1 ? parts[1] : Substring.UnicodeScalarView() {
                if escaped {
                    switch scalar {
                    case ":": value.append(";")
                    case "s": value.append(" ")
                    case "r": value.append("\r")
                    case "n": value.append("\n")
                    default: value.append(scalar)
                    }
                    escaped = false
                } else if scalar == "\\" {
                    escaped = true
                } else {
                    value.append(scalar)
                }
            }
            tags[String(Substring(key))] = String(value)
        }
        return tags
    }

    /// The most a line may take on the wire, CRLF included (RFC 1459 section 2.3).
    package static let maxLineBytes = 512

    /// Why a message cannot be put on the wire as it is.
    package struct EncodingError: Error, Sendable, CustomStringConvertible {
        package let description: String
    }

    /// The wire form with CRLF. The last parameter goes as trailing (it may hold spaces); NUL,
    /// CR and LF in it are dropped (a caller that meant separate lines splits them first, see
    /// `IRCText.privmsgParts`), and it is cut at a Unicode scalar boundary so the line fits in
    /// 512 bytes. Any other parameter must be a single word without them: a target or a nick
    /// that is not is refused (the line is not sent), never repaired into another target.
    package func encoded() throws(EncodingError) -> ByteBuffer {
        guard !command.isEmpty, command.utf8.allSatisfy({ Self.isLetterOrDigit($0) }) else {
            throw EncodingError(description: "command \(command.debugDescription) is not a word")
        }
        var head = command
        for parameter in parameters.dropLast() {
            guard IRCText.isWord(parameter) else {
                throw EncodingError(description: "\(command): parameter \(parameter.debugDescription) is not a single word")
            }
            head += " " + parameter
        }
        var bytes = Array(head.utf8)
        if let last = parameters.last {
            bytes += Array(" :".utf8)
            let room = Self.maxLineBytes - 2 - bytes.count
            guard room >= 0 else { throw EncodingError(description: "\(command): longer than \(Self.maxLineBytes) bytes") }
            bytes += IRCText.clean(last, maxBytes: room)
        }
        guard bytes.count <= Self.maxLineBytes - 2 else {
            throw EncodingError(description: "\(command): longer than \(Self.maxLineBytes) bytes")
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bytes.count + 2)
        buffer.writeBytes(bytes)
        buffer.writeBytes([13, 10])
        return buffer
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
    }
}

/// Splits the byte stream at LF (a CR before it dropped); a line past 8 KiB closes the
/// connection rather than growing the buffer.
package struct IRCLineDecoder: ByteToMessageDecoder {
    package typealias InboundOut = String
    package static let maxLine = 8192

    package init() {}

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxLine { throw PlatformError("IRC line longer than \(Self.maxLine) bytes") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        // Also when the whole line came in one read: no line past the limit is taken.
        if length > Self.maxLine { throw PlatformError("IRC line longer than \(Self.maxLine) bytes") }
        var bytes = buffer.readBytes(length: length) ?? []
        buffer.moveReaderIndex(forwardBy: 1)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        // Invalid UTF-8 (latin-1 clients) becomes U+FFFD rather than dropping the line.
        context.fireChannelRead(wrapInboundOut(String(decoding: bytes, as: UTF8.self)))
        return .continue
    }
}
