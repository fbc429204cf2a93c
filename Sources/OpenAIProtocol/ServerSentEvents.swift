/// One event of a `text/event-stream` body.
package struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field; nil for the default `message` type (all that chat completions send).
    package var type: String?
    /// The `data:` lines joined with "\n".
    package var data: String

    package init(type: String?, data: String) {
        self.type = type
        self.data = data
    }
}

/// Parses a `text/event-stream` body as the HTML standard defines it, fed in whatever pieces the
/// network delivers: lines end in LF, CRLF or CR (a CR at the end of one read and an LF at the
/// start of the next are one ending), `:` lines are comments (servers send them as keep-alives),
/// a blank line dispatches the event. Bounded: a line or an event longer than `maxEventBytes` is
/// an error, so a server that never sends a newline cannot grow memory.
package struct ServerSentEventParser {
    package struct TooLarge: Error, Sendable, Equatable {
        package let limit: Int
    }

    package let maxEventBytes: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var type: String?
    /// The previous piece ended in CR: an LF first in this one ends nothing more.
    private var skipLF = false
    /// Bytes of the stream's opening byte order mark seen so far (the standard drops one; a
    /// server that sends it would otherwise lose its first event, `\u{FEFF}data` being no field);
    /// nil once past the start.
    private var bomSeen: Int? = 0
    private static let byteOrderMark: [UInt8] = [0xef, 0xbb, 0xbf]

    package init(maxEventBytes: Int = 1 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    /// Adds `bytes`; returns the events they complete, in order.
    package mutating func feed(_ bytes: some Sequence<UInt8>) throws(TooLarge) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if let seen = bomSeen {
                if byte == Self.byteOrderMark[seen] {
                    bomSeen = seen + 1 == Self.byteOrderMark.count ? nil : seen + 1
                    continue
                }
                // Not a mark after all: what looked like its start is text.
                bomSeen = nil
                line.append(contentsOf: Self.byteOrderMark[..<seen])
            }
            if skipLF {
                skipLF = false
                if byte == 0x0a { continue }
            }
            switch byte {
            case 0x0d:
                skipLF = true
                if let event = endLine() { events.append(event) }
            case 0x0a:
                if let event = endLine() { events.append(event) }
            default:
                line.append(byte)
                if line.count + data.count > maxEventBytes { throw TooLarge(limit: maxEventBytes) }
            }
        }
        return events
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            // A blank line: dispatch what the event collected (nothing when it had no data).
            defer {
                data.removeAll(keepingCapacity: true)
                hasData = false
                type = nil
            }
            guard hasData else { return nil }
            return ServerSentEvent(type: type, data: String(decoding: data, as: UTF8.self))
        }
        if line[0] == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let name = line[..<colon]
        var valueStart = colon < line.endIndex ? colon + 1 : colon
        if valueStart < line.endIndex && line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = line[valueStart...]
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            if hasData { data.append(0x0a) }
            data.append(contentsOf: value)
            hasData = true
        case "event":
            type = String(decoding: value, as: UTF8.self)
        default:
            break  // id, retry and unknown fields mean nothing to a one-shot request
        }
        return nil
    }
}
