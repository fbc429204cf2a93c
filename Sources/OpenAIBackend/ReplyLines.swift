/// Cuts a streamed answer into the parts the chat is sent while the model still writes: each
/// finished line as soon as its newline arrives (blank lines are not sent), the rest when the
/// stream ends. A line longer than `maxPart` is cut at its last space before that (or hard), so
/// a model that never writes a newline still reaches the chat in pieces and memory stays bounded.
struct ReplyLines {
    let maxPart: Int
    private var pending = ""

    init(maxPart: Int = 2_000) {
        self.maxPart = max(16, maxPart)
    }

    /// Adds streamed text; returns the parts it completes, in order. Linear in the text: a whole
    /// answer in one piece (a server that ignores `stream`, or one event with thousands of
    /// lines) is walked once, not re-copied after every line it holds.
    mutating func add(_ text: String) -> [String] {
        pending += text
        var parts: [String] = []
        var rest = pending[...]
        while let newline = rest.firstIndex(where: { $0 == "\n" || $0 == "\r\n" }) {
            if let part = Self.part(rest[..<newline]) { parts.append(part) }
            rest = rest[rest.index(after: newline)...]
        }
        // `count > maxPart`, found without counting the whole rest each time.
        while let limit = rest.index(rest.startIndex, offsetBy: maxPart, limitedBy: rest.endIndex), limit < rest.endIndex {
            let head = rest[..<limit]
            let cut = head.lastIndex(of: " ").map { rest.index(after: $0) } ?? limit
            if let part = Self.part(rest[..<cut]) { parts.append(part) }
            rest = rest[cut...]
        }
        pending = String(rest)
        return parts
    }

    /// What is left once the stream ended (nil when only whitespace).
    mutating func finish() -> String? {
        defer { pending = "" }
        return Self.part(pending[...])
    }

    private static func part(_ line: Substring) -> String? {
        var line = line
        while let last = line.last, last.isWhitespace { line.removeLast() }
        return line.allSatisfy(\.isWhitespace) ? nil : String(line)
    }
}
