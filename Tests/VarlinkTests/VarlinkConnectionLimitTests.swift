import Foundation
import GatewayTestSupport
import JSON
import Testing
@testable import Varlink
import VarlinkClient
import VarlinkProtocol

/// Connection slots: a limit per uid, slots that only root (and the daemon's user) may take, and
/// an idle timeout, so that no local user can lock the operator out.
@Suite("Varlink server: connection limits", .timeLimit(.minutes(1)))
struct VarlinkConnectionLimitTests {
    static func admission(daemonUID: UInt32 = 990) -> ConnectionAdmission {
        var configuration = VarlinkServer.Configuration()
        configuration.maxConnections = 20
        configuration.reservedForRoot = 4
        configuration.reservedForDaemonUser = 4
        configuration.maxConnectionsPerUID = 5
        configuration.daemonUID = daemonUID
        return ConnectionAdmission(configuration)
    }

    @Test("admission: a uid holds at most its share, others fill the rest, root and the daemon's user keep their slots")
    func admissionRules() {
        // 20 slots: 12 for anyone, 4 more for the daemon's user, the last 4 for root.
        var admission = Self.admission()
        for _ in 0..<5 { #expect(admission.admit(uid: 1000) == nil) }
        #expect(admission.admit(uid: 1000) == .perUID(uid: 1000, open: 5))
        for _ in 0..<5 { #expect(admission.admit(uid: 1001) == nil) }
        for _ in 0..<2 { #expect(admission.admit(uid: 1002) == nil) }
        #expect(admission.admit(uid: 1002) == .full(open: 12))
        for _ in 0..<4 { #expect(admission.admit(uid: 990) == nil) }
        #expect(admission.admit(uid: 990) == .full(open: 16))
        for _ in 0..<4 { #expect(admission.admit(uid: 0) == nil) }
        #expect(admission.admit(uid: 0) == .full(open: 20))
        // Freed slots: a user's goes to nobody else while the reserved ones are taken.
        admission.release(uid: 1000)
        admission.release(uid: 0)
        #expect(admission.admit(uid: 3000) == .full(open: 18))
        #expect(admission.admit(uid: 0) == nil)
        #expect(admission.byUID[1000] == 4)
    }

    @Test("admission: root is held to the total only")
    func rootHasNoShare() {
        var admission = Self.admission()
        for _ in 0..<20 { #expect(admission.admit(uid: 0) == nil) }
        #expect(admission.admit(uid: 0) == .full(open: 20))
        #expect(admission.byUID[0] == 20)
        for _ in 0..<20 { admission.release(uid: 0) }
        #expect(admission.total == 0 && admission.byUID.isEmpty)
    }

    @Test("a user who opens 300 connections holds 32, and root still gets in",
          .enabled(if: geteuid() == 0, "needs root to run a peer as nobody"))
    func userCannotLockOutRoot() async throws {
        try await withServer(mode: 0o666) { path, server in
            // nobody must reach the socket and the FIFO.
            let holding = FIFOSignal(), release = FIFOSignal()
            for file in [path, holding.path, release.path] {
                chmod(URL(fileURLWithPath: file).deletingLastPathComponent().path, 0o755)
                chmod(file, 0o666)
            }
            let script = """
                import socket, sys
                held, served = [], 0
                for _ in range(300):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(sys.argv[1])
                    held.append(s)
                for s in held:
                    s.settimeout(5)
                    try:
                        s.sendall(b'{"method":"org.varlink.service.GetInfo"}\\0')
                        if s.recv(65536): served += 1
                    except OSError:
                        pass
                print("served=%d" % served, flush=True)
                with open(sys.argv[2], "w") as gate: gate.write("holding\\n")
                with open(sys.argv[3]) as gate: gate.readline()
                """
            let holder = try TestChild(["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                        "/usr/bin/python3", "-c", script, path, holding.path, release.path])
            #expect(await holding.waitForLine() == "holding")
            #expect(server.connectionCount == 32)
            // Root is served while nobody holds its 32 connections.
            let reply = try await onThread {
                try VarlinkConnection(path: path, timeout: .seconds(5)).call(VarlinkCall(method: "org.varlink.service.GetInfo"))
            }
            #expect(reply.error == nil)
            release.send("done")
            let output = try await onThread { String(decoding: holder.readToEnd().standardOutput, as: UTF8.self) }
            #expect(holder.wait() == 0)
            #expect(output.contains("served=32"), "\(output)")
        }
    }

    @Test("a peer that connects and sends nothing is closed after the idle timeout; a stream in progress is not idle")
    func idleTimeout() async throws {
        let log = LogRecorder()
        // 2 s, not less: the stream's first call must reach the server before its own idle
        // deadline, and a loaded CI machine once took longer than 300 ms between accept and read.
        try await withServer({ $0.idleTimeout = .seconds(2) }, logger: log.logger()) { path, _ in
            try await onThread {
                let streaming = try VarlinkConnection(path: path, timeout: .seconds(30))
                try streaming.send(VarlinkCall(method: "org.example.Test.Hold", more: true))
                #expect(try streaming.receive().parameters["held"] == true)
                let idle = try RawPeer(path: path)
                let started = ContinuousClock.now
                #expect(idle.waitForEndOfFile(timeout: .seconds(30)), "the idle peer was not closed")
                #expect(ContinuousClock.now - started >= .seconds(2))
                // The stream, idle as long and longer, is still open: nothing to read, no end of file.
                streaming.setTimeout(.zero)
                let open = #expect(throws: VarlinkClientError.self) { try streaming.receiveFrame() }
                #expect(open?.code == .timedOut)
            }
        }
        #expect(log.messages(event: "connection_closed").contains { $0.contains("idle for 2000 ms") })
    }

    @Test("after a call, the idle timeout starts again: a connection used now and then stays while it is used")
    func idleAfterCalls() async throws {
        // Gaps of 200 ms against a 3 s timeout: a loaded machine stretched 100 ms gaps past the
        // 500 ms this used to allow, which tested the machine, not the timer.
        try await withServer({ $0.idleTimeout = .seconds(3) }) { path, _ in
            try await onThread {
                let connection = try VarlinkConnection(path: path, timeout: .seconds(30))
                let call = VarlinkCall(method: "org.example.Test.Echo", parameters: ["text": "x"])
                let started = ContinuousClock.now
                // A client that calls every 200 ms, for more than two idle timeouts: every call succeeds.
                while ContinuousClock.now - started < .milliseconds(7000) {
                    #expect(try connection.call(call).parameters["text"] == "x")
                    usleep(200_000)
                }
            }
        }
    }
}
