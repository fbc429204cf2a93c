import CGatewayShims
import Logging
import NIOConcurrencyHelpers
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Hands each record to a `LogWriter` instead of writing it on the caller's thread: formatting a
/// record and writing it to the journal cost an exec quick command's reply ≈15 µs, and a journald
/// that stopped reading would block the caller (the dispatcher, the control socket) in `sendmsg`.
///
/// Records of level `error` and above wake the writer at once instead of at the end of the
/// batch interval, and a `critical` one (the process is about to end) waits for it, at most
/// `LogWriter.criticalWait`: never more, since the writer may be stuck in a journald that does
/// not read (stopped, frozen), and no caller may share its fate. A metadata provider of the
/// wrapped handler runs on the writer's thread, not the caller's (gatewayd uses none).
public struct DeferredLogHandler: LogHandler {
    public var base: any LogHandler
    let writer: LogWriter

    public init(_ base: any LogHandler, writer: LogWriter = .shared) {
        self.base = base
        self.writer = writer
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        writer.enqueue(base, event, urgent: event.level >= .error)
        if event.level == .critical { _ = writer.flush(within: LogWriter.criticalWait) }
    }
}

/// One thread that writes queued records in batches, at most `interval` after the first of a
/// batch was queued. Queueing never wakes it: the first record of a batch arms a timerfd (one
/// syscall), so a burst of records costs one wake-up, and an idle daemon none. Past `capacity`
/// waiting records, new ones are dropped and counted, and the count is logged when the writer
/// catches up: a stuck journald costs log records, never the daemon's progress. Only this thread
/// writes: `sd_journal_sendv` blocks while journald's socket queue is full.
public final class LogWriter: Sendable {
    public static let shared = LogWriter()
    /// How long a record may wait: journald stamps it on arrival, so up to this much late.
    public let interval: Duration
    public let capacity: Int
    private let intervalNanoseconds: UInt64

    /// The longest a `critical` record or the exit's `flush` waits for the writer.
    public static let criticalWait: Duration = .seconds(1)

    private struct Queue {
        var records: [(handler: any LogHandler, event: LogEvent)] = []
        var dropped = 0
        /// The timer is set for the batch (`interval` after its first record)...
        var armed = false
        /// ...or to fire now (an urgent record, a flush).
        var armedNow = false
        /// Records taken by the writer and not yet written.
        var writing = 0
    }

    private let queue = NIOLockedValueBox(Queue())
    private let droppedTotal = Synchronization.Atomic<Int>(0)
    /// Records dropped since the process started (`gatewayd_log_records_dropped`).
    public var droppedRecords: Int { droppedTotal.load(ordering: .relaxed) }
    private let timerFD: Int32

    /// A writer with a thread of its own (one per process is the point: `shared`).
    init(interval: Duration = .milliseconds(10), capacity: Int = 4096) {
        self.interval = interval
        self.capacity = capacity
        intervalNanoseconds = UInt64(max(0, interval / .nanoseconds(1)))
        timerFD = gw_timerfd()
        precondition(timerFD >= 0, "LogWriter: cannot create a timerfd: errno \(errno)")
        let created = gw_start_thread("gw-log", { context in
            Unmanaged<LogWriter>.fromOpaque(context!).takeRetainedValue().loop()
        }, Unmanaged.passRetained(self).toOpaque())
        precondition(created == 0, "LogWriter: cannot start its thread: \(created)")
    }

    func enqueue(_ handler: any LogHandler, _ event: LogEvent, urgent: Bool = false) {
        let arm = queue.withLockedValue { queue -> UInt64? in
            guard queue.records.count < capacity else {
                queue.dropped += 1
                droppedTotal.add(1, ordering: .relaxed)
                return nil
            }
            queue.records.append((handler, event))
            return Self.arm(&queue, now: urgent, interval: intervalNanoseconds)
        }
        if let deadline = arm { gw_timerfd_arm(timerFD, deadline) }
    }

    /// When the timer must fire, if it must be set again: the batch's end, or now.
    private static func arm(_ queue: inout Queue, now: Bool, interval: UInt64) -> UInt64? {
        if now {
            guard !queue.armedNow else { return nil }
            queue.armed = true
            queue.armedNow = true
            return gw_monotonic_nsec()
        }
        guard !queue.armed else { return nil }
        queue.armed = true
        return gw_monotonic_nsec() &+ interval
    }

    /// Wakes the writer and waits until what was queued before is written: true, or false after
    /// `limit` (the writer is stuck in a journald that does not read). Before the process exits.
    @discardableResult
    public func flush(within limit: Duration = LogWriter.criticalWait) -> Bool {
        let deadline = ContinuousClock.now + limit
        let arm = queue.withLockedValue { queue -> UInt64? in
            guard !queue.records.isEmpty else { return nil }
            return Self.arm(&queue, now: true, interval: intervalNanoseconds)
        }
        if let deadline = arm { gw_timerfd_arm(timerFD, deadline) }
        while queue.withLockedValue({ !$0.records.isEmpty || $0.writing > 0 }) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(1000)
        }
        return true
    }

    private func loop() {
        var descriptor = pollfd(fd: timerFD, events: Int16(POLLIN), revents: 0)
        var expirations: UInt64 = 0
        while true {
            guard poll(&descriptor, 1, -1) > 0 else { continue }
            _ = read(timerFD, &expirations, 8)
            writeQueued()
        }
    }

    private func writeQueued() {
        let (records, dropped) = queue.withLockedValue { queue in
            defer { queue = Queue(writing: queue.records.count) }
            return (queue.records, queue.dropped)
        }
        defer { queue.withLockedValue { $0.writing = 0 } }
        for (handler, event) in records { handler.log(event: event) }
        if dropped > 0, let handler = records.last?.handler {
            handler.log(event: LogEvent(
                level: .warning, message: "\(dropped) log records dropped: the log was not keeping up",
                metadata: ["event": "log_dropped", "dropped": "\(dropped)"],
                source: "Systemd", file: #fileID, function: #function, line: #line))
        }
    }
}
