import NIOCore

/// One IRC protocol line (RFC 1459/2812): `[:prefix] COMMAND params... [:trailing]`.
struct IRCMessage: Equatable, Sendable {
    var prefix: String?
    var command: String
    var parameters: [String]

    /// The nick of `nick!user@host`.
    var senderNick: String? {
        prefix.map { String($0.prefix { $0 != "!" && $0 != "@" }) }
    }

    init(prefix: String? = nil, command: String, parameters: [String]) {
        self.prefix = prefix
        self.command = command
        self.parameters = parameters
    }

    /// nil for an empty or malformed line.
    init?(line: String) {
        var rest = Substring(line)
        if rest.hasPrefix("@") {  // IRCv3 tags: not used here
            guard let space = rest.firstIndex(of: " ") else { return nil }
            rest = rest[rest.index(after: space)...].drop { $0 == " " }
        }
        if rest.hasPrefix(":") {
            guard let space = rest.firstIndex(of: " ") else { return nil }
            prefix = String(rest[rest.index(after: rest.startIndex)..<space])
            rest = rest[rest.index(after: space)...].drop { $0 == " " }
        } else {
            prefix = nil
        }
        var parameters: [String] = []
        var command: String?
        while !rest.isEmpty {
            if rest.hasPrefix(":") && command != nil {
                parameters.append(String(rest.dropFirst()))
                break
            }
            let word = rest.prefix { $0 != " " }
            if command == nil { command = String(word).uppercased() } else { parameters.append(String(word)) }
            rest = rest.dropFirst(word.count).drop { $0 == " " }
        }
        guard let command, !command.isEmpty else { return nil }
        self.command = command
        self.parameters = parameters
    }

    /// The wire form, without CRLF. The last parameter goes as trailing (it may hold spaces).
    var line: String {
        var out = prefix.map { ":\($0) " } ?? ""
        out += command
        for (index, parameter) in parameters.enumerated() {
            out += index == parameters.count - 1 ? " :\(parameter)" : " \(parameter)"
        }
        return out
    }
}

/// Splits the byte stream at LF (a CR before it dropped); a line past 8 KiB closes the
/// connection rather than growing the buffer.
struct IRCLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String
    static let maxLine = 8192

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxLine { throw PlatformError("IRC line longer than \(Self.maxLine) bytes") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        var bytes = buffer.readBytes(length: length) ?? []
        buffer.moveReaderIndex(forwardBy: 1)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        // Invalid UTF-8 (latin-1 clients) becomes U+FFFD rather than dropping the line.
        context.fireChannelRead(wrapInboundOut(String(decoding: bytes, as: UTF8.self)))
        return .continue
    }
}
