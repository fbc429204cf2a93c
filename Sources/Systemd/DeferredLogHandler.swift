import CGatewayShims
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Hands each record to a `LogWriter` instead of writing it on the caller's thread: formatting a
/// record and writing it to the journal cost an exec quick command's reply ≈15 µs, and a journald
/// that stopped reading would block the caller (the dispatcher, the control socket) in `sendmsg`.
///
/// Records of level `error` and above are written at once (after those queued before them), so
/// what explains a crash is not left in the queue. A metadata provider of the wrapped handler
/// runs on the writer's thread, not the caller's (gatewayd uses none).
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
        if event.level >= .error {
            writer.writeNow(base, event)
        } else {
            writer.enqueue(base, event)
        }
    }
}

/// One thread that writes queued records in batches, at most `interval` after the first of a
/// batch was queued. Queueing never wakes it: the first record of a batch arms a timerfd (one
/// syscall), so a burst of records costs one wake-up, and an idle daemon none. Past `capacity`
/// waiting records, new ones are dropped and counted, and the count is logged when the writer
/// catches up: a stuck journald costs log records, never the daemon's progress.
public final class LogWriter: Sendable {
    public static let shared = LogWriter()
    /// How long a record may wait: journald stamps it on arrival, so up to this much late.
    public let interval: Duration
    public let capacity: Int
    private let intervalNanoseconds: UInt64

    private struct Queue {
        var records: [(handler: any LogHandler, event: LogEvent)] = []
        var dropped = 0
        var armed = false
    }

    private let queue = Mutex(Queue())
    private let droppedTotal = Atomic<Int>(0)
    /// Records dropped since the process started (`gatewayd_log_records_dropped`).
    public var droppedRecords: Int { droppedTotal.load(ordering: .relaxed) }
    /// Held while records are written, so batches, `flush()` and urgent records keep their order.
    private let writing = Mutex(())
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

    func enqueue(_ handler: any LogHandler, _ event: LogEvent) {
        let arm = queue.withLock { queue -> Bool in
            guard queue.records.count < capacity else {
                queue.dropped += 1
                droppedTotal.add(1, ordering: .relaxed)
                return false
            }
            queue.records.append((handler, event))
            guard !queue.armed else { return false }
            queue.armed = true
            return true
        }
        if arm { gw_timerfd_arm(timerFD, gw_monotonic_nsec() &+ intervalNanoseconds) }
    }

    func writeNow(_ handler: any LogHandler, _ event: LogEvent) {
        writing.withLock { _ in
            writeQueued()
            handler.log(event: event)
        }
    }

    /// Writes everything queued, on the caller's thread; before the process exits.
    public func flush() {
        writing.withLock { _ in writeQueued() }
    }

    private func loop() {
        var descriptor = pollfd(fd: timerFD, events: Int16(POLLIN), revents: 0)
        var expirations: UInt64 = 0
        while true {
            guard poll(&descriptor, 1, -1) > 0 else { continue }
            _ = read(timerFD, &expirations, 8)
            flush()
        }
    }

    /// Call with `writing` held.
    private func writeQueued() {
        let (records, dropped) = queue.withLock { queue in
            defer { queue = Queue() }
            return (queue.records, queue.dropped)
        }
        for (handler, event) in records { handler.log(event: event) }
        if dropped > 0, let handler = records.last?.handler {
            handler.log(event: LogEvent(
                level: .warning, message: "\(dropped) log records dropped: the log was not keeping up",
                metadata: ["event": "log_dropped", "dropped": "\(dropped)"],
                source: "Systemd", file: #fileID, function: #function, line: #line))
        }
    }
}
