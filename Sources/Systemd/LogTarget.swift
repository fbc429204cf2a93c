import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Where log records go: the native journal (structured fields) or plain text on stderr.
public enum LogTarget: String, Sendable, CaseIterable {
    case journal
    case console

    /// The journal when `JOURNAL_STREAM` names this process's stderr (systemd connected it to
    /// journald, so native records reach the same place with their fields); text otherwise.
    /// A stderr redirected elsewhere (`gatewayd 2>file` inside a unit) keeps the text, because
    /// `JOURNAL_STREAM` then names a different file.
    public static func detect(journalStream: String?, standardErrorDescriptor fd: Int32 = 2) -> LogTarget {
        guard let journalStream, let identity = parseJournalStream(journalStream) else { return .console }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .console }
        return UInt64(info.st_dev) == identity.device && UInt64(info.st_ino) == identity.inode
            ? .journal : .console
    }

    /// `JOURNAL_STREAM` is `DEVICE:INODE` in decimal (systemd.exec(5)).
    static func parseJournalStream(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}

/// How the caller chose the target: `auto` detects, the others force it (for a daemon started
/// under systemd with its stderr sent to a file, or tests that must see the text).
public enum LogTargetChoice: String, Sendable, CaseIterable {
    case auto
    case journal
    case console

    public func resolve(journalStream: String?) -> LogTarget {
        switch self {
        case .auto: LogTarget.detect(journalStream: journalStream)
        case .journal: .journal
        case .console: .console
        }
    }
}

/// Builds the process's log handlers once the target is known.
public struct LogHandlerFactory: Sendable {
    public let target: LogTarget
    public let identifier: String
    public let fieldPrefix: String
    public let level: Logger.Level
    public let deferred: Bool

    public init(target: LogTarget, identifier: String, fieldPrefix: String, level: Logger.Level = .info,
                deferred: Bool = false) {
        self.target = target
        self.identifier = identifier
        self.fieldPrefix = fieldPrefix
        self.level = level
        self.deferred = deferred
    }

    /// The handler for `target`; with `deferred`, every record is written by the
    /// `LogWriter`'s thread (see `DeferredLogHandler`).
    public func makeHandler(label: String) -> any LogHandler {
        var handler: any LogHandler
        switch target {
        case .journal: handler = JournalLogHandler(label: label, identifier: identifier, fieldPrefix: fieldPrefix)
        case .console: handler = ConsoleLogHandler(label: label)
        }
        handler.logLevel = level
        return deferred ? DeferredLogHandler(handler) : handler
    }

    /// `LoggingSystem.bootstrap` with this factory; call once, early in `main`.
    public func bootstrap() {
        LoggingSystem.bootstrap { label in makeHandler(label: label) }
    }
}
