import Foundation
import GatewayControl
import GatewayCore
import GatewayTestSupport
import GatewayWire
import JSON
import NIOConcurrencyHelpers
import Testing

@Suite("Audit trail of the control socket", .timeLimit(.minutes(1)))
struct ControlAuditTests {
    /// The records with `GATEWAY_AUDIT=1`.
    func audited(_ log: LogRecorder) -> [LogRecorder.Record] {
        log.all.filter { $0.metadata[AuditJournal.marker] == AuditJournal.markerValue }
    }

    @Test("one record per changing call with the peer (uid, pid, comm) and the outcome; a refused call too; read calls none")
    func changingCalls() async throws {
        let log = LogRecorder()
        let gateway = try await Gateway.start(mode: 0o666, logger: log.logger())
        defer { Task { await gateway.stop() } }
        #expect(try await gateway.ctl(["drain", "--no-wait"]).status == 0)
        let refused = try await gateway.ctl(["drain", "--no-wait", "--drain-timeout", "5"], asNobody: true)
        #expect(refused.status == 4, "\(refused.standardError)")
        #expect(try await gateway.ctl(["status"]).status == 0)
        #expect(try await gateway.ctl(["quick", "list"]).status == 0)
        #expect(try await gateway.ctl(["quick", "run", "nope"]).status == 125)
        #expect(try await gateway.ctl(["resume"]).status == 0)
        let records = audited(log)
        #expect(records.map { $0.metadata[AuditJournal.action] } == ["Drain", "Drain", "RunQuickCommand", "Resume"], "\(records)")
        guard records.count == 4 else { return }
        let drain = records[0].metadata
        #expect(drain[AuditJournal.caller] == "local:root")
        #expect(drain[AuditJournal.peerUID] == "0")
        #expect(drain[AuditJournal.peerComm] == "gatewayctl")
        #expect(Int32(drain[AuditJournal.peerPID] ?? "") ?? 0 > 0)
        #expect(drain[AuditJournal.arguments] == "{}")
        #expect(drain[AuditJournal.outcome] == "ok")
        #expect(drain["MESSAGE_ID"] == GatewayMessageID.audit)
        #expect(records[0].message.hasPrefix("Drain by local:root (uid 0, pid "), "\(records[0].message)")
        let denied = records[1].metadata
        #expect(denied[AuditJournal.peerUID] == "65534")
        #expect(denied[AuditJournal.caller] == "local:nobody")
        #expect(denied[AuditJournal.arguments] == #"{"timeout_usec":5000000}"#)
        #expect(denied[AuditJournal.outcome]?.hasPrefix("denied: ") == true)
        #expect(denied["event"] == "control_denied", "the refusal keeps the event it always had")
        #expect(denied["MESSAGE_ID"] == GatewayMessageID.auditDenied)
        #expect(records[2].metadata[AuditJournal.outcome] == #"error: NoSuchQuickCommand: {"name":"nope"}"#)
        #expect(records[2].metadata["MESSAGE_ID"] == GatewayMessageID.audit)
        #expect(records[3].metadata[AuditJournal.outcome] == "ok")
    }

    @Test("a quick command that ran: no record of the call's own, the command's report carries the caller")
    func quickRun() async throws {
        let log = LogRecorder()
        let gateway = try await Gateway.start(logger: log.logger())
        defer { Task { await gateway.stop() } }
        let reports = NIOLockedValueBox<[QuickCommandReport]>([])
        await gateway.dispatcher.observe { event in
            if case .quickCommandFinished(let report) = event { reports.withLockedValue { $0.append(report) } }
        }
        let output = try await gateway.ctl(["quick", "run", "words", "a\nb", "c"])
        #expect(output.status == 0, "\(output.standardError)")
        #expect(audited(log).isEmpty, "one record per run: the command's")
        let audit = try #require(reports.withLockedValue { $0.first?.audit })
        #expect(audit.action == "RunQuickCommand")
        #expect(audit.arguments == #"{"args":["a\nb","c"],"name":"words"}"#)
        #expect(audit.caller.identity == "local:root")
        #expect(audit.caller.peer?.uid == 0)
        #expect(audit.caller.peer?.comm == "gatewayctl")
        #expect(audit.outcome == .ok)
    }

    @Test("the command name is read once per connection, not per call")
    func commOncePerConnection() async throws {
        let log = LogRecorder()
        let gateway = try await Gateway.start(logger: log.logger())
        defer { Task { await gateway.stop() } }
        let socket = gateway.socket
        // Three calls on one connection from a process that renames itself between them: the
        // name read with the first call stays (the memo), though /proc now says another.
        let script = """
            import ctypes, socket, sys
            libc = ctypes.CDLL(None)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            def call(method):
                s.sendall(b'{"method":"io.gatewayd.Gateway.' + method + b'"}\\0')
                reply = b""
                while not reply.endswith(b"\\0"): reply += s.recv(65536)
            libc.prctl(15, b"first-name", 0, 0, 0)
            call(b"Resume")
            libc.prctl(15, b"second-name", 0, 0, 0)
            call(b"Resume")
            call(b"Resume")
            """
        let output = try await onThread { try run(["/usr/bin/python3", "-c", script, socket]) }
        #expect(output.status == 0, "\(output.standardError)")
        let names = audited(log).map { $0.metadata[AuditJournal.peerComm] }
        #expect(names == ["first-name", "first-name", "first-name"])
    }
}
