import GatewayCore

/// Text rules of the IRC wire: where a reply's lines break, how long a PRIVMSG may be, and which
/// names may stand as a parameter.
package enum IRCText {
    /// Line breaks in replies: CR LF, a lone CR, LF, NEL (U+0085), and the Unicode line and
    /// paragraph separators (U+2028, U+2029). Each ends a PRIVMSG; none may reach the server
    /// inside one (a CR ends the line for most servers: what follows would be a command).
    package static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0a, 0x0d, 0x85, 0x2028, 0x2029: true
        default: false
        }
    }

    /// The reply's lines, empty ones left out, NULs removed.
    package static func lines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isLineBreak(scalar) {
                if !current.isEmpty { lines.append(String(current)) }
                current = String.UnicodeScalarView()
            } else if scalar.value != 0 {
                current.append(scalar)
            }
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    /// The texts of the PRIVMSGs that carry `text`: one or more per line, each at most
    /// `maxBytes` of UTF-8, split at spaces where possible, never inside a character unless one
    /// character alone is longer than `maxBytes` (`e` and 5,000 combining accents): then at a
    /// Unicode scalar boundary, so no UTF-8 sequence is ever cut.
    package static func privmsgParts(_ text: String, maxBytes: Int) -> [String] {
        var parts: [String] = []
        for line in lines(text) {
            for part in ReplySplitter.split(line, maxBytes: maxBytes) where !part.isEmpty {
                if part.utf8.count <= maxBytes {
                    parts.append(part)
                } else {
                    parts += cutAtScalars(part, maxBytes: maxBytes)
                }
            }
        }
        return parts
    }

    package static func cutAtScalars(_ text: String, maxBytes: Int) -> [String] {
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let size = UTF8.width(scalar)
            if bytes + size > maxBytes && !current.isEmpty {
                parts.append(String(current))
                current = String.UnicodeScalarView()
                bytes = 0
            }
            current.append(scalar)
            bytes += size
        }
        if !current.isEmpty { parts.append(String(current)) }
        return parts
    }

    /// A trailing parameter as bytes: NUL dropped, CR and LF made spaces, at most `maxBytes`
    /// (cut at a scalar boundary).
    package static func clean(_ text: String, maxBytes: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(text.utf8.count, maxBytes))
        for scalar in text.unicodeScalars where scalar.value != 0 {
            let safe: Unicode.Scalar = scalar.value == 0x0a || scalar.value == 0x0d ? " " : scalar
            let size = UTF8.width(safe)
            if bytes.count + size > maxBytes { break }
            UTF8.encode(safe) { bytes.append($0) }
        }
        return bytes
    }

    /// A middle parameter: not empty, no space or control character, not starting with `:`.
    package static func isWord(_ text: String) -> Bool {
        !text.isEmpty && !text.hasPrefix(":") && text.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7f }
    }

    /// A nick the gateway may answer or take: a word without `,` `!` `@` `*` `?` that does not
    /// look like a channel.
    package static func isNick(_ text: String) -> Bool {
        isWord(text) && !text.contains(where: { ",!@*?".contains($0) }) && !(text.first.map { "#&$+".contains($0) } ?? true)
    }

    /// A channel name (RFC 2812 `chanstring`): `#` or `&`, then no space, comma, colon or control.
    package static func isChannel(_ text: String) -> Bool {
        (text.hasPrefix("#") || text.hasPrefix("&")) && text.utf8.count > 1 && isWord(text) && !text.contains(",")
            && !text.dropFirst().contains(":")
    }
}
