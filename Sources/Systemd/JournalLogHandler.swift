import CSystemd
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes native journal records (`sd_journal_sendv`), so every metadata
/// key becomes a field `journalctl` can match on: `logger[metadataKey: "session"]` is found by
/// `journalctl GATEWAY_SESSION=...`.
///
/// Values are sent as raw bytes (newlines and all), never flattened, since journald stores them
/// binary-safe. If journald refuses a record, the line goes to stderr instead of being lost.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String
    /// `SYSLOG_IDENTIFIER`, what `journalctl -t` and the short output show.
    public let identifier: String
    /// Prepended to each metadata key that does not carry it yet.
    public let fieldPrefix: String

    public init(label: String, identifier: String, fieldPrefix: String) {
        self.label = label
        self.identifier = identifier
        self.fieldPrefix = fieldPrefix
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        var fields: [(String, String)] = [
            ("MESSAGE", message.description),
            ("PRIORITY", String(Self.priority(level))),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
        ]
        if let error = event.error {
            fields.append((Self.fieldName(for: "error", prefix: fieldPrefix), "\(error)"))
        }
        let merged = Logger.Metadata.merging(handler: metadata, record: event.metadata)
        for key in merged.keys.sorted() {
            fields.append((FieldNames.shared.name(for: key, prefix: fieldPrefix), Self.render(merged[key]!)))
        }
        let result = Self.send(fields)
        if result < 0 {
            let text = "\(identifier): \(level): \(message) (journal: \(String(cString: strerror(-result))))\n"
            _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
        }
    }

    /// Metadata keys that are journal fields of their own, passed through without the prefix.
    public static let journalFields: Set<String> = ["MESSAGE_ID"]

    /// swift-log levels onto syslog priorities (trace and debug are both `debug`, 7).
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A metadata key as a journal field name: upper case, `[A-Z0-9_]` only, the prefix added
    /// once, at most 64 bytes (journald drops longer names).
    public static func fieldName(for key: String, prefix: String) -> String {
        var name = String(key.uppercased().unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "0"..."9", "_": Character(scalar)
            default: "_"
            }
        })
        if !name.hasPrefix(prefix) { name = prefix + name }
        return String(name.prefix(64))
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }

    /// One `FIELD=value` iovec per field, all pointing into a single contiguous buffer.
    static func send(_ fields: [(String, String)]) -> Int32 {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for (name, value) in fields {
            let start = buffer.count
            buffer.append(contentsOf: name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: value.utf8)
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBytes { raw in
            var vectors = ranges.map { range in
                iovec(iov_base: raw.baseAddress! + range.lowerBound, iov_len: range.count)
            }
            return vectors.withUnsafeMutableBufferPointer { iov in
                sd_journal_sendv(iov.baseAddress, Int32(iov.count))
            }
        }
    }
}

/// Metadata keys as journal field names, remembered: the daemon logs the same few dozen keys
/// over and over (a quick command's record has fifteen), and each took an uppercasing and a
/// scalar-by-scalar copy per record. At most `limit` are kept (keys come from the code, but a
/// bound costs nothing).
final class FieldNames: Sendable {
    static let shared = FieldNames()
    static let limit = 512

    /// By prefix, then by key.
    private let names = Mutex<(count: Int, byPrefix: [String: [String: String]])>((0, [:]))

    func name(for key: String, prefix: String) -> String {
        if let known = names.withLock({ $0.byPrefix[prefix]?[key] }) { return known }
        let name = JournalLogHandler.journalFields.contains(key) ? key : JournalLogHandler.fieldName(for: key, prefix: prefix)
        names.withLock { names in
            guard names.count < Self.limit else { return }
            names.count += 1
            names.byPrefix[prefix, default: [:]][key] = name
        }
        return name
    }
}
