import Foundation
import GatewayTestSupport
import Systemd
import Testing

/// Records written by a real process through JournalLogHandler, read back from a real journald
/// (started by the test in private namespaces) with `journalctl -o json`.
@Suite("Journal", .timeLimit(.minutes(1)), .ownThread, .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
struct JournalTests {
    /// Decodes one `journalctl -o json` line. Fields journalctl could not print as text come as
    /// arrays of bytes.
    func fields(_ line: Substring) throws -> [String: String] {
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return object.compactMapValues { value in
            if let text = value as? String { return text }
            if let bytes = value as? [Int] { return String(decoding: bytes.map(UInt8.init), as: UTF8.self) }
            return nil
        }
    }

    func records(script: String, tag: String) throws -> [[String: String]] {
        let output = try run([TestPaths.sandboxScript, "journald", "/bin/sh", "-c", script, "sh",
                              TestPaths.testHelper, tag], environment: environment(with: [:]))
        #expect(output.status == 0, "\(output.standardError)")
        return try output.standardOutput.split(separator: "\n").map(fields)
    }

    @Test("native records carry message, priority, identifier, code location and metadata fields")
    func nativeRecords() throws {
        let tag = UUID().uuidString
        let entries = try records(script: """
            "$1" journal "$2" || exit 1
            journalctl --sync
            journalctl -o json --no-pager GATEWAY_TEST_TAG="$2"
            """, tag: tag)
        try #require(entries.count == 4, "\(entries)")
        let byKind = Dictionary(uniqueKeysWithValues: entries.map { ($0["GATEWAY_KIND"] ?? "info", $0) })

        let info = try #require(byKind["info"])
        #expect(info["MESSAGE"] == "plain record")
        #expect(info["PRIORITY"] == "6")
        #expect(info["SYSLOG_IDENTIFIER"] == "gatewayd-test")
        #expect(info["CODE_FILE"]?.hasSuffix("main.swift") == true)
        #expect(Int(info["CODE_LINE"] ?? "") != nil)
        #expect(info["CODE_FUNC"]?.isEmpty == false)
        #expect(info["GATEWAY_SESSION"] == "local:dm:alice")
        #expect(info["GATEWAY_QUICK_COMMAND_NAME_"] == "up time")
        #expect(info["GATEWAY_TEST_TAG"] == tag)

        let warning = try #require(byKind["warning"])
        #expect(warning["PRIORITY"] == "4")
        #expect(warning["MESSAGE"] == "two\nlines")
        #expect(warning["GATEWAY_MULTI"] == "first\nsecond\n")

        #expect(byKind["debug"]?["PRIORITY"] == "7")
        #expect(byKind["critical"]?["PRIORITY"] == "2")
        // journalctl matches on a field a test did not write itself.
        let matched = try records(script: """
            "$1" journal "$2" || exit 1
            journalctl --sync
            journalctl -o json --no-pager GATEWAY_TEST_TAG="$2" GATEWAY_SESSION=local:dm:alice
            """, tag: tag + "-2")
        #expect(matched.count == 1)
    }

    @Test("auto detection picks the journal when JOURNAL_STREAM names stderr; no text then")
    func autoPicksJournal() throws {
        let tag = UUID().uuidString
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let entries = try records(script: """
            exec 2>"\(directory)/stderr"
            JOURNAL_STREAM=$(stat -L -c '%d:%i' /proc/self/fd/2) "$1" auto "$2" || exit 1
            journalctl --sync
            journalctl -o json --no-pager GATEWAY_TEST_TAG="$2"
            """, tag: tag)
        #expect(entries.count == 1)
        #expect(entries.first?["MESSAGE"] == "auto record target=journal")
        let text = try String(contentsOfFile: directory + "/stderr", encoding: .utf8)
        #expect(!text.contains("auto record"))
    }
}
