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

    /// Adds streamed text; returns the parts it completes, in order.
    mutating func add(_ text: String) -> [String] {
        pending += text
        var parts: [String] = []
        while let newline = pending.firstIndex(where: { $0 == "\n" || $0 == "\r\n" }) {
            let line = String(pending[..<newline])
            pending.removeSubrange(...newline)
            if let part = Self.part(line) { parts.append(part) }
        }
        while pending.count > maxPart {
            let head = pending.prefix(maxPart)
            let cut = head.lastIndex(of: " ").map { pending.index(after: $0) } ?? head.endIndex
            if let part = Self.part(String(pending[..<cut])) { parts.append(part) }
            pending.removeSubrange(..<cut)
        }
        return parts
    }

    /// What is left once the stream ended (nil when only whitespace).
    mutating func finish() -> String? {
        defer { pending = "" }
        return Self.part(pending)
    }

    private static func part(_ line: String) -> String? {
        var line = Substring(line)
        while let last = line.last, last.isWhitespace { line.removeLast() }
        return line.allSatisfy(\.isWhitespace) ? nil : String(line)
    }
}
