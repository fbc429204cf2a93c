import Logging
import NIOConcurrencyHelpers

/// A swift-log handler that keeps every record, for tests that check what was logged.
public final class LogRecorder: Sendable {
    public struct Record: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]
    }

    private let records = NIOLockedValueBox<[Record]>([])

    public init() {}

    /// A logger whose records land here.
    public func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    public var all: [Record] { records.withLockedValue { $0 } }

    /// The messages of records whose `event` metadata is `event`.
    public func messages(event: String) -> [String] {
        all.filter { $0.metadata["event"] == event }.map(\.message)
    }

    fileprivate func append(_ record: Record) { records.withLockedValue { $0.append(record) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.append(Record(level: event.level, message: event.message.description,
                                   metadata: merged.mapValues { "\($0)" }))
        }
    }
}
