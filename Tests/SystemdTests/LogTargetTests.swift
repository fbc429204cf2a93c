import Foundation
import GatewayTestSupport
import Logging
import Systemd
import Testing

@Suite("Log target and journal field names", .ownThread)
struct LogTargetTests {
    /// `DEV:INO` of an open descriptor, as systemd writes `JOURNAL_STREAM`.
    func identity(of fd: Int32) -> String {
        var info = stat()
        fstat(fd, &info)
        return "\(info.st_dev):\(info.st_ino)"
    }

    @Test("journal only when JOURNAL_STREAM names the stderr descriptor")
    func detection() throws {
        let path = makeTemporaryDirectory() + "/stderr"
        FileManager.default.createFile(atPath: path, contents: nil)
        let fd = open(path, O_WRONLY)
        defer { close(fd); unlink(path) }
        let other = open("/dev/null", O_WRONLY)
        defer { close(other) }
        #expect(LogTarget.detect(journalStream: identity(of: fd), standardErrorDescriptor: fd) == .journal)
        #expect(LogTarget.detect(journalStream: identity(of: other), standardErrorDescriptor: fd) == .console)
        #expect(LogTarget.detect(journalStream: nil, standardErrorDescriptor: fd) == .console)
        #expect(LogTarget.detect(journalStream: "", standardErrorDescriptor: fd) == .console)
        #expect(LogTarget.detect(journalStream: "12:abc", standardErrorDescriptor: fd) == .console)
        #expect(LogTarget.detect(journalStream: "1:2:3", standardErrorDescriptor: fd) == .console)
        #expect(LogTargetChoice.console.resolve(journalStream: identity(of: 2)) == .console)
        #expect(LogTargetChoice.journal.resolve(journalStream: nil) == .journal)
    }

    @Test("a process started without JOURNAL_STREAM, or with one naming another file, logs text to stderr",
          arguments: [nil, "1:1"] as [String?])
    func textFallback(journalStream: String?) throws {
        let tag = UUID().uuidString
        let output = try run([TestPaths.testHelper, "auto", tag],
                             environment: environment(with: ["JOURNAL_STREAM": journalStream]))
        #expect(output.status == 0)
        #expect(output.standardError.contains("auto record target=console"))
        #expect(output.standardError.contains(tag))
    }

    @Test("metadata keys become journal field names")
    func fieldNames() {
        let prefix = "GATEWAY_"
        #expect(JournalLogHandler.fieldName(for: "session", prefix: prefix) == "GATEWAY_SESSION")
        #expect(JournalLogHandler.fieldName(for: "quick_command", prefix: prefix) == "GATEWAY_QUICK_COMMAND")
        #expect(JournalLogHandler.fieldName(for: "gateway_event", prefix: prefix) == "GATEWAY_EVENT")
        #expect(JournalLogHandler.fieldName(for: "exit-status", prefix: prefix) == "GATEWAY_EXIT_STATUS")
        #expect(JournalLogHandler.fieldName(for: "quick command é!", prefix: prefix) == "GATEWAY_QUICK_COMMAND___")
        let long = JournalLogHandler.fieldName(for: String(repeating: "k", count: 100), prefix: prefix)
        #expect(long.count == 64)
    }

    @Test("swift-log levels map to syslog priorities")
    func priorities() {
        let expected: [Logger.Level: Int] = [
            .trace: 7, .debug: 7, .info: 6, .notice: 5, .warning: 4, .error: 3, .critical: 2,
        ]
        for (level, priority) in expected {
            #expect(JournalLogHandler.priority(level) == priority)
        }
    }
}
