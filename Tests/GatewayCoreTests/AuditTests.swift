import Foundation
import GatewayCore
import GatewayWire
import NIOConcurrencyHelpers
import Testing

/// What the audit sink was given.
final class AuditLog: Sendable {
    private let records = NIOLockedValueBox<[AuditRecord]>([])
    var all: [AuditRecord] { records.withLockedValue { $0 } }
    var sink: AuditSink { { record in self.records.withLockedValue { $0.append(record) } } }
}

@Suite("Audit trail of chat commands", .timeLimit(.minutes(1)))
struct ChatAuditTests {
    let yaml = """
        quick_commands:
          up: {type: exec, command: "echo up"}
          busy: {type: exec, command: "echo never"}
        exec: {max_concurrent: 1}
        access:
          allowed_users: ["irc:*", "webhook:*"]
          admins: ["irc:~alice"]
        """

    func fromAlice(_ text: String, _ d: Dispatcher) async -> [String] {
        let replies = Replies()
        await d.handle(InboundMessage(platform: "irc", chat: "alice", user: "alice", text: text, account: "alice",
                                      hostmask: "alice!a@host"), replies: replies)
        return replies.texts
    }

    @Test("/restart, /stop and refused exec quick commands are audit records with the platform identity")
    func privilegedCommands() async throws {
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent())
        let log = AuditLog()
        await d.setAuditSink(log.sink)
        await d.markRunning()
        _ = await send(d, "/up now", user: "bob", platform: "webhook")
        _ = await send(d, "/restart", user: "mallory\r\nGATEWAY_AUDIT=0", platform: "irc")
        _ = await send(d, "/stop", user: "bob", platform: "webhook")
        _ = await send(d, "/help", user: "bob", platform: "webhook")
        _ = await send(d, "hello", user: "bob", platform: "webhook")
        #expect(await fromAlice("/restart", d) == ["♻ Restarting gateway."])
        let records = log.all
        #expect(records.map(\.action) == ["/up", "/restart", "/stop", "/restart"], "only privileged commands: \(records)")
        guard records.count == 4 else { return }
        #expect(records[0].caller.identity == "webhook:bob")
        #expect(records[0].caller.chat == "webhook:c1")
        #expect(records[0].arguments == "now")
        #expect(records[0].outcome == .denied("⛔ /up is admin-only here. Use /whoami to see what you may run."))
        #expect(records[1].outcome.isDenied)
        #expect(!records[1].message.contains("\n") && !records[1].message.contains("\r"), "\(records[1].message)")
        #expect(records[1].message.hasPrefix("/restart refused to irc:mallory\\u{d}\\u{a}GATEWAY_AUDIT=0"), "\(records[1].message)")
        #expect(records[2].outcome == .ok)
        #expect(records[3].caller == AuditCaller(identity: "irc:alice", account: "alice", hostmask: "alice!a@host", chat: "irc:alice"))
        #expect(records[3].outcome == .ok)
        #expect(records[3].message == "/restart by irc:alice (alice!a@host): ok")
    }

    @Test("an exec quick command that ran is audited by its own report (one record), one that could not run by the sink")
    func quickCommands() async throws {
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent())
        let log = AuditLog()
        await d.setAuditSink(log.sink)
        await d.markRunning()
        let reports = NIOLockedValueBox<[QuickCommandReport]>([])
        await d.observe { event in
            if case .quickCommandFinished(let report) = event { reports.withLockedValue { $0.append(report) } }
        }
        #expect(await fromAlice("/up a b", d) == ["up"])
        #expect(log.all.isEmpty, "no second record for a command that ran")
        let report = try #require(reports.withLockedValue { $0.first })
        #expect(report.audit?.caller.identity == "irc:alice")
        #expect(report.audit?.caller.hostmask == "alice!a@host")
        #expect(report.audit?.action == "/up")
        #expect(report.audit?.arguments == "a b")
        #expect(report.audit?.outcome == .ok)
    }

    @Test("hostile values: capped in their fields, MESSAGE one line")
    func hostileValues() {
        let huge = String(repeating: "x", count: 1 << 20) + "\n\0"
        let record = AuditRecord(caller: AuditCaller(identity: "irc:" + huge, chat: "irc:\u{1b}]0;title\u{7}"),
                                 action: "/up", arguments: "a\r\nb\0" + huge, outcome: .failed(huge))
        let fields = Dictionary(record.fields, uniquingKeysWith: { $1 })
        for key in [AuditJournal.caller, AuditJournal.arguments, AuditJournal.outcome] {
            let value = try? #require(fields[key])
            #expect((value?.utf8.count ?? .max) <= AuditJournal.maxValueBytes + 32, "\(key) capped")
            #expect(value?.hasSuffix("more bytes]") == true, "\(key) says it was cut")
        }
        #expect(fields[AuditJournal.arguments]?.hasPrefix("a\r\nb\0") == true, "binary-safe field keeps the bytes")
        #expect(fields[AuditJournal.marker] == "1")
        #expect(record.message.utf8.count <= AuditJournal.maxMessageBytes + 32)
        #expect(!record.message.contains { $0.isNewline || $0 == "\0" || $0 == "\u{1b}" })
    }
}
