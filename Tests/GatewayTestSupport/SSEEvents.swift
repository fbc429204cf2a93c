import Foundation

/// Server-sent events cut out of a body that arrives in pieces of any size: each event is the
/// text before a blank line (LF LF, CRLF CRLF or CR CR), kept exactly as sent, so a test can say
/// which framing a real server uses. A test-side reader, not the gateway's parser.
public final class SSEEvents {
    /// One event: its raw text (line ends as sent, without the blank line) and when it was complete.
    public struct Event: Sendable {
        public let raw: String
        public let at: ContinuousClock.Instant

        /// The event's lines, split on any line end.
        public var lines: [String] {
            raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }

        /// The `data:` field (lines joined by LF, one leading space dropped), nil for an event
        /// without one (a comment only).
        public var data: String? {
            let values = lines.filter { $0.hasPrefix("data:") }.map { line -> String in
                let value = line.dropFirst(5)
                return String(value.first == " " ? value.dropFirst() : value)
            }
            return values.isEmpty ? nil : values.joined(separator: "\n")
        }

        /// True when every line is a comment (`:` first).
        public var isComment: Bool { lines.allSatisfy { $0.hasPrefix(":") } }
    }

    private var pending: [UInt8] = []
    public private(set) var events: [Event] = []
    /// The separators seen between events, by name ("LF LF", "CRLF CRLF", "CR CR").
    public private(set) var separators: Set<String> = []

    public init() {}

    /// Adds bytes read at `at`; returns the events they completed.
    @discardableResult
    public func feed(_ bytes: [UInt8], at: ContinuousClock.Instant) -> [Event] {
        pending += bytes
        var completed: [Event] = []
        while let (end, length, name) = firstSeparator() {
            let event = Event(raw: String(decoding: pending[..<end], as: UTF8.self), at: at)
            pending.removeFirst(end + length)
            separators.insert(name)
            completed.append(event)
        }
        events += completed
        return completed
    }

    /// Bytes after the last complete event (a stream should end with none).
    public var leftover: String { String(decoding: pending, as: UTF8.self) }

    private func firstSeparator() -> (Int, Int, String)? {
        let candidates: [([UInt8], String)] = [([13, 10, 13, 10], "CRLF CRLF"), ([10, 10], "LF LF"), ([13, 13], "CR CR")]
        return candidates.compactMap { needle, name in
            HTTPExchange.find(needle, in: pending).map { ($0, needle.count, name) }
        }.min { $0.0 < $1.0 }
    }
}
