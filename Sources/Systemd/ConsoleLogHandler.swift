import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Text records on stderr, in swift-log's `StreamLogHandler` format
/// (`2026-12-02T03:14:39+0000 info gatewayd: key=value ... [source] message`), at a fraction of
/// its cost per record. Measured on the log thread with an exec quick command per record (32 in
/// flight): `StreamLogHandler` spent a fifth of its time in `localtime()` (which calls `tzset`,
/// a `stat` of /etc/localtime, every time), a quarter merging the record's metadata into a copy
/// of the handler's (empty) metadata, a fifth in `sorted`/`map`/`joined`, and the rest in stdio.
/// Here the timestamp is formatted once per second, metadata is merged only when both sides have
/// some, the line is built in one buffer and written with one `write(2)`.
public struct ConsoleLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String
    let descriptor: Int32

    public init(label: String, descriptor: Int32 = 2) {
        self.label = label
        self.descriptor = descriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = Logger.Metadata.merging(handler: metadata, record: event.metadata)
        if let error = event.error {
            fields["error.message"] = "\(error)"
            fields["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = ConsoleClock.shared.timestamp()
        line.reserveCapacity(256)
        line += " \(event.level)"
        if !label.isEmpty { line += " " + label }
        line += ":"
        for key in fields.keys.sorted() {
            line += " " + key + "=" + "\(fields[key]!)"
        }
        line += " [" + event.source + "] " + event.message.description + "\n"
        line.withUTF8 { Self.writeAll(descriptor, UnsafeRawBufferPointer($0)) }
    }

    /// Every byte, or as many as the descriptor takes (a full non-blocking pipe, a closed one:
    /// the record is dropped, as a log line must never stop the caller).
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

/// Local time as `%Y-%m-%dT%H:%M:%S%z`, formatted once per second: the zone is looked up again
/// each second (`tzset`; `localtime_r` alone never looks again), so a changed /etc/localtime shows within one.
final class ConsoleClock: Sendable {
    static let shared = ConsoleClock()

    private let last = Mutex<(second: time_t, text: String)>((-1, ""))

    func timestamp() -> String {
        let now = time(nil)
        if let cached = last.withLock({ $0.second == now ? $0.text : nil }) { return cached }
        var local = tm()
        var seconds = now
        tzset()
        guard localtime_r(&seconds, &local) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        let text = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        last.withLock { $0 = (now, text) }
        return text
    }
}

extension Logger.Metadata {
    /// A record's metadata over its handler's (the record's wins), copying only when both have
    /// some: a log record usually brings all of its metadata, and its handler none.
    static func merging(handler: Logger.Metadata, record: Logger.Metadata?) -> Logger.Metadata {
        guard let record, !record.isEmpty else { return handler }
        return handler.isEmpty ? record : handler.merging(record) { $1 }
    }
}
