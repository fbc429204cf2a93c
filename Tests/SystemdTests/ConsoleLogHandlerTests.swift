import Foundation
import Logging
import Systemd
import Testing

/// The console format is swift-log's `StreamLogHandler`'s, which operators' scripts and the
/// daemon tests read: checked line by line against what that handler writes.
@Suite("Console log lines", .ownThread)
struct ConsoleLogHandlerTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "no such thing" }
    }

    /// The lines `log` writes through a handler on a pipe.
    func lines(_ log: (inout Logger) -> Void, handlerMetadata: Logger.Metadata = [:]) throws -> [String] {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        var handler = ConsoleLogHandler(label: "gatewayd", descriptor: fds[1])
        handler.metadata = handlerMetadata
        handler.logLevel = .debug
        var logger = Logger(label: "gatewayd") { _ in handler }
        log(&logger)
        close(fds[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// `2026-12-02T03:14:39+0000` (local time with its offset), then the rest of the line.
    func splitTimestamp(_ line: String) -> (timestamp: String, rest: String) {
        let timestamp = String(line.prefix(24))
        return (timestamp, String(line.dropFirst(25)))
    }

    @Test("timestamp, level, label, sorted key=value metadata, [source], message; one line each")
    func format() throws {
        let output = try lines { logger in
            logger.info("quick command /hi exited", metadata: ["session": "local:dm", "event": "quick_command", "MESSAGE_ID": "abc"])
            logger.debug("plain", source: "Tests")
            logger.warning("with\nnewline", metadata: ["list": ["a", "b"], "number": .stringConvertible(42)])
        }
        #expect(output.count == 5 && output[4] == "", "\(output)")
        let timestamp = try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$"#)
        for line in output.prefix(2) { #expect(splitTimestamp(line).timestamp.wholeMatch(of: timestamp) != nil, "\(line)") }
        #expect(splitTimestamp(output[0]).rest == "info gatewayd: MESSAGE_ID=abc event=quick_command session=local:dm [SystemdTests] quick command /hi exited")
        #expect(splitTimestamp(output[1]).rest == "debug gatewayd: [Tests] plain")
        // A message's newline stays a newline, as StreamLogHandler writes it.
        #expect(splitTimestamp(output[2]).rest == #"warning gatewayd: list=["a", "b"] number=42 [SystemdTests] with"#)
        #expect(output[3] == "newline")
    }

    @Test("the handler's metadata under the record's (the record's wins); an error as error.message and error.type")
    func mergedMetadata() throws {
        let output = try lines({ logger in
            logger.error("failed", error: Failure(), metadata: ["session": "record"])
            logger.info("bare")
        }, handlerMetadata: ["session": "handler", "instance": "main"])
        #expect(splitTimestamp(output[0]).rest
            == "error gatewayd: error.message=no such thing error.type=SystemdTests.ConsoleLogHandlerTests.Failure instance=main session=record [SystemdTests] failed")
        #expect(splitTimestamp(output[1]).rest == "info gatewayd: instance=main session=handler [SystemdTests] bare")
    }
}
