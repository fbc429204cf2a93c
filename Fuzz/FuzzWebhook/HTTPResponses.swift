/// A strict reader of what an HTTP/1.1 server wrote: status lines, headers, bodies of exactly
/// `content-length` bytes, nothing after a response that closes the connection.
enum HTTPResponses {
    /// What is wrong with `bytes` as a sequence of responses; nil when nothing is.
    static func problem(_ bytes: [UInt8]) -> String? {
        var rest = bytes[...]
        while !rest.isEmpty {
            guard let end = headEnd(rest) else { return "a response head without its blank line" }
            let lines = rest[rest.startIndex..<end].split(separator: [13, 10], omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            rest = rest[(end + 4)...]
            let status = lines[0]
            guard status.hasPrefix("HTTP/1.1 ") || status.hasPrefix("HTTP/1.0 ") else { return "status line \(status.debugDescription)" }
            let fields = status.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[1].count == 3, fields[1].allSatisfy(\.isASCII), Int(fields[1]).map({ (200...599).contains($0) }) == true
            else { return "status line \(status.debugDescription)" }
            var length: Int?
            var closes = false
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                      line[..<colon].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }),
                      !line.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 })
                else { return "header line \(line.debugDescription)" }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingPrefix(" ")
                if name == "content-length" {
                    guard length == nil, let number = Int(value), number >= 0 else { return "content-length \(value)" }
                    length = number
                }
                if name == "connection" && value.lowercased() == "close" { closes = true }
                if name == "transfer-encoding" { return "transfer-encoding in a response" }
            }
            guard let length else { return "a response without content-length" }
            guard rest.count >= length else { return "a body shorter than its content-length" }
            rest = rest.dropFirst(length)
            if closes && !rest.isEmpty { return "bytes after a response with connection: close" }
        }
        return nil
    }

    /// The offset of the CRLF CRLF that ends the head starting `bytes`.
    private static func headEnd(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index + 3 < bytes.endIndex {
            if bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 { return index }
            index += 1
        }
        return nil
    }
}
