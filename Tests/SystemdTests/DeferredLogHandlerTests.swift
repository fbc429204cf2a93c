import Foundation
import Logging
@testable import Systemd
import Testing

/// What a handler was given, and a gate that can hold the writer inside `log`.
final class RecordingLog: @unchecked Sendable {
    private let condition = NSCondition()
    private var messages: [String] = []
    private var entered = 0
    private var open = true

    func record(_ message: String) {
        condition.lock()
        entered += 1
        condition.broadcast()
        while !open { condition.wait() }
        messages.append(message)
        condition.broadcast()
        condition.unlock()
    }

    var written: [String] {
        condition.lock()
        defer { condition.unlock() }
        return messages
    }

    func close() { condition.lock(); open = false; condition.unlock() }
    func reopen() { condition.lock(); open = true; condition.broadcast(); condition.unlock() }

    /// Waits (on the condition, not by sleeping) until `predicate` holds; false after 5 s.
    func wait(until predicate: (_ entered: Int, _ written: [String]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(entered, messages) {
            if !condition.wait(until: deadline) { return predicate(entered, messages) }
        }
        return true
    }
}

struct RecordingHandler: LogHandler {
    let log: RecordingLog
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { log.record(event.message.description) }
}

@Suite("Deferred logging", .timeLimit(.minutes(1)))
struct DeferredLogHandlerTests {
    func logger(_ log: RecordingLog, _ writer: LogWriter) -> Logger {
        Logger(label: "test") { _ in DeferredLogHandler(RecordingHandler(log: log), writer: writer) }
    }

    @Test("nothing is written on the caller's thread; an error goes out at once, after what was queued before it; flush leaves nothing")
    func order() {
        let log = RecordingLog()
        let writer = LogWriter(interval: .seconds(3600))
        let logger = logger(log, writer)
        logger.info("1")
        logger.notice("2")
        logger.debug("filtered by level")
        #expect(log.written.isEmpty)
        logger.error("3")
        #expect(log.wait { _, written in written == ["1", "2", "3"] }, "the error did not wake the writer: \(log.written)")
        logger.info("4")
        #expect(writer.flush())
        #expect(log.written == ["1", "2", "3", "4"])
    }

    @Test("a stuck sink (journald stopped) blocks no caller: not an error, not a critical record (it waits its bound), not the exit's flush")
    func stuckSinkBlocksNoCaller() {
        let log = RecordingLog()
        let writer = LogWriter(interval: .milliseconds(1))
        let logger = logger(log, writer)
        log.close()
        logger.info("held")
        #expect(log.wait { entered, _ in entered == 1 }, "the writer never took the first record")
        // Each returns while the writer is stuck inside the sink (a hang here ends in the time limit).
        logger.error("an error")
        let started = ContinuousClock.now
        logger.critical("a critical one")
        #expect(ContinuousClock.now - started < LogWriter.criticalWait + .seconds(5))
        #expect(!writer.flush(within: .milliseconds(50)), "the flush says it gave up")
        log.reopen()
        #expect(writer.flush(within: .seconds(5)))
        #expect(log.written == ["held", "an error", "a critical one"])
    }

    @Test("the writer's thread writes a batch on its own within the interval")
    func batches() {
        let log = RecordingLog()
        let logger = logger(log, LogWriter(interval: .milliseconds(5)))
        for index in 0..<3 { logger.info("\(index)") }
        #expect(log.wait { _, written in written.count == 3 })
        #expect(log.written == ["0", "1", "2"])
    }

    @Test("a sink that blocks never blocks the caller: past capacity records are dropped, and the count is logged")
    func blockedSink() {
        let log = RecordingLog()
        let writer = LogWriter(interval: .milliseconds(1), capacity: 8)
        let logger = logger(log, writer)
        log.close()
        logger.info("held")
        #expect(log.wait { entered, _ in entered == 1 }, "the writer never took the first record")
        // The writer is stuck inside the sink; these only queue (8) or are counted (12).
        for index in 0..<20 { logger.info("\(index)") }
        log.reopen()
        #expect(log.wait { _, written in written.count == 10 })
        #expect(log.written == ["held"] + (0..<8).map(String.init) + ["12 log records dropped: the log was not keeping up"])
        #expect(writer.droppedRecords == 12, "gatewayd_log_records_dropped_total counts them for good")
    }
}
