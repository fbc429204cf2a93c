import Foundation
import GatewayControl
import GatewayCore
import GatewayTestSupport
import JSON
import NIOConcurrencyHelpers
import Testing
import Varlink
import VarlinkProtocol

/// Who may steer the gateway: the peer's real groups, the admin group as the last reload says,
/// and never a process the gateway started.
@Suite("Control permissions", .timeLimit(.minutes(1)))
struct ControlPermissionsTests {
    static let ctl = TestPaths.product("gatewayctl")

    // MARK: (b) the service's cgroup, with cgroup files as the kernel writes them

    @Test("the lineage is read once per connection: later calls on it reuse the answer, a new connection asks again")
    func lineageOncePerConnection() {
        let reads = NIOLockedValueBox(0)
        let lineage = ProcessLineage(daemonPID: 400, serviceCgroup: nil, parentOf: { pid in
            reads.withLockedValue { $0 += 1 }
            return pid == 500 ? 400 : 1
        }, cgroupOf: { _ in nil })
        let permissions = ControlPermissions(daemonUID: 1000, adminGroupID: nil, lineage: lineage)
        let child = PeerCredentials(pid: 500, uid: 0, gid: 0)
        for _ in 0..<3 { #expect(permissions.check(child) != .allowed, "a child of the daemon, root or not") }
        #expect(reads.withLockedValue { $0 } == 1)
        let operatorShell = PeerCredentials(pid: 600, uid: 0, gid: 0)
        for _ in 0..<3 { #expect(permissions.check(operatorShell) == .allowed) }
        #expect(reads.withLockedValue { $0 } == 2)
        #expect(permissions.check(PeerCredentials(pid: 600, uid: 0, gid: 0)) == .allowed)
        #expect(reads.withLockedValue { $0 } == 3, "a new connection is judged afresh")
    }

    @Test("the daemon's service cgroup: a .service path, or INVOCATION_ID set; cgroup v1 lines ignored; not one its manager shares")
    func serviceCgroup() {
        func service(_ text: String, _ invocationID: String? = nil, parent: String? = "/init.scope") -> String? {
            ProcessLineage.serviceCgroup(procSelfCgroup: text, invocationID: invocationID, parentCgroup: parent)
        }
        let hybrid = "12:pids:/system.slice/gatewayd.service\n1:name=systemd:/system.slice/gatewayd.service\n0::/system.slice/gatewayd.service\n"
        #expect(service(hybrid) == "/system.slice/gatewayd.service")
        #expect(service("0::/system.slice/system-gatewayd.slice/gatewayd@ops.service\n") == "/system.slice/system-gatewayd.slice/gatewayd@ops.service")
        // A terminal: a session scope, no INVOCATION_ID: not a service, no cgroup check.
        #expect(service("0::/user.slice/user-1000.slice/session-4.scope\n") == nil)
        // Inside a cgroup namespace the service sees itself at "/": INVOCATION_ID says it is one.
        #expect(service("0::/\n", "6c3f1b0e2b8c4d0f9a1e", parent: "/..") == "/")
        #expect(service("0::/\n", "") == nil)
        #expect(service("4:memory:/x.service\n") == nil, "no v2 line")
        // The manager in the same cgroup (it could not make one per service): no check, or every
        // process there would be refused.
        #expect(service("0::/\n", "6c3f1b0e2b8c4d0f9a1e", parent: "/") == nil)
        #expect(service("0::/gatewayd.service\n", nil, parent: "/gatewayd.service") == nil)
    }

    @Test("a peer in the service's cgroup, or below it, is refused: an orphan cannot leave it; others are not")
    func cgroupCheck() {
        let cgroups: [Int32: String] = [
            500: "/system.slice/gatewayd.service",                  // a double-forked orphan of a quick command
            501: "/system.slice/gatewayd.service/sub",              // moved below (not possible read-only; still refused)
            502: "/user.slice/user-0.slice/session-3.scope",        // root at a terminal
            503: "/system.slice/gatewayd.service-other.service",    // another unit sharing the prefix
            504: "/system.slice/cron.service",
        ]
        // Everyone's parent is pid 1 here: ancestry says nothing, the cgroup decides.
        let lineage = ProcessLineage(daemonPID: 400, serviceCgroup: "/system.slice/gatewayd.service",
                                     parentOf: { cgroups[$0] != nil ? 1 : nil }, cgroupOf: { cgroups[$0] })
        func verdict(_ pid: Int32) -> String? { lineage.startedByDaemon(PeerCredentials(pid: pid, uid: 990, gid: 990)) }
        #expect(verdict(500)?.contains("service cgroup") == true)
        #expect(verdict(501)?.contains("service cgroup") == true)
        #expect(verdict(502) == nil)
        #expect(verdict(503) == nil)
        #expect(verdict(504) == nil)
        // Not a service (started from a terminal): no cgroup check at all.
        let manual = ProcessLineage(daemonPID: 400, serviceCgroup: nil, parentOf: { _ in 1 }, cgroupOf: { _ in "/system.slice/gatewayd.service" })
        #expect(manual.startedByDaemon(PeerCredentials(pid: 500, uid: 990, gid: 990)) == nil)
    }

    @Test("(a) ancestry: a descendant at any depth is refused; the daemon itself and unrelated processes are not")
    func ancestryCheck() {
        let parents: [Int32: Int32] = [700: 400, 701: 700, 702: 701, 400: 1, 800: 1, 801: 800]
        let lineage = ProcessLineage(daemonPID: 400, serviceCgroup: nil, parentOf: { parents[$0] }, cgroupOf: { _ in nil })
        func verdict(_ pid: Int32) -> String? { lineage.startedByDaemon(PeerCredentials(pid: pid, uid: 0, gid: 0)) }
        #expect(verdict(700)?.contains("descends from gatewayd") == true)
        #expect(verdict(702)?.contains("descends from gatewayd") == true)
        #expect(verdict(400) == nil, "the daemon's own process")
        #expect(verdict(801) == nil)
        #expect(verdict(999)?.contains("has exited") == true, "a peer that is gone is not trusted")
        // Root is refused too, when it is the daemon's child.
        let permissions = ControlPermissions(daemonUID: 990, adminGroupID: nil, lineage: lineage)
        guard case .denied(let reason) = permissions.check(PeerCredentials(pid: 701, uid: 0, gid: 0)) else {
            Issue.record("root child allowed")
            return
        }
        #expect(reason.contains("a process started by gatewayd may not steer it"))
        #expect(permissions.check(PeerCredentials(pid: 801, uid: 0, gid: 0)) == .allowed)
        #expect(permissions.check(PeerCredentials(pid: 801, uid: 990, gid: 990)) == .denied(GatewayText.daemonUserUnverifiable),
                "gatewayd's user without a pidfd (a kernel before 6.5): /proc by pid may be another process by now")
        #expect(permissions.check(PeerCredentials(pid: 801, uid: 1000, gid: 1000, groups: [4])) != .allowed)
    }

    // MARK: Real processes

    /// A gateway in which this test process is the daemon (the real lineage), with quick
    /// commands that call a changing method through gatewayctl.
    static func selfSteeringGateway(_ extra: String = "") async throws -> Gateway {
        try await Gateway.start(yaml: """
            quick_commands:
              child: {type: exec, command: "\(ctl) --socket $SOCKET resume 2>&1"}
              grandchild: {type: exec, command: "(\(ctl) --socket $SOCKET resume 2>&1; echo rc=$?) & wait"}
            \(extra)
            """, permissions: Gateway.permissions(lineage: .current()))
    }

    @Test("a quick command that calls a changing method is refused, and so is its grandchild, root though they are")
    func childrenRefused() async throws {
        let gateway = try await Self.selfSteeringGateway()
        defer { Task { await gateway.stop() } }
        // The test process itself (the daemon) may.
        #expect(try await gateway.call(.resume).error == nil)
        let child = try await gateway.call(.runQuickCommand, ["name": "child"])
        #expect(child.parameters["exit_status"] == 4, "\(child)")
        #expect(child.parameters["output"]?.string?.contains("permission denied") == true)
        let grandchild = try await gateway.call(.runQuickCommand, ["name": "grandchild"])
        #expect(grandchild.parameters["output"]?.string?.contains("rc=4") == true, "\(grandchild)")
        // Read methods stay open to them (gatewayctl started by this process: the daemon's child).
        #expect(try await gateway.ctl(["status"]).status == 0)
    }

    @Test("the reason reaches the peer, and the refusal is logged")
    func refusalExplainedAndLogged() async throws {
        let log = LogRecorder()
        let gateway = try await Gateway.start(permissions: Gateway.permissions(lineage: .current()), logger: log.logger())
        defer { Task { await gateway.stop() } }
        // A peer started by this process (the daemon here) sees why it was refused.
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            s.sendall(b'{"method":"io.gatewayd.Gateway.Resume"}\\0')
            reply = b""
            while not reply.endswith(b"\\0"): reply += s.recv(65536)
            print(reply[:-1].decode())
            """
        let raw = try await onThread { try run(["/usr/bin/python3", "-c", script, gateway.socket]) }
        let reply = try VarlinkCoding.decodeReply(Array(raw.standardOutput.utf8.dropLast()))
        #expect(reply.error == VarlinkError.permissionDenied)
        #expect(reply.parameters["message"]?.string?.hasPrefix("a process started by gatewayd may not steer it") == true)
        // gatewayctl likewise.
        let output = try await gateway.ctl(["drain", "--no-wait"])
        #expect(output.status == 4, "\(output.standardError)")
        #expect(await gateway.dispatcher.state == .running)
        let logged = log.messages(event: "control_denied")
        #expect(logged.count == 2)
        #expect(logged.last?.contains("Drain refused") == true)
        #expect(logged.allSatisfy { $0.contains("descends from gatewayd") })
    }

    @Test("a connection that outlives the process that opened it may not steer, though that process could (the lineage memo keeps no liveness)")
    func connectionOutlivesItsProcess() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        // A connects and resumes (allowed: root or the daemon's user, not started by gatewayd),
        // then leaves the connection to its child G and exits; once A is reaped, G calls again.
        let script = """
            import socket, sys, os
            def call(s):
                s.sendall(b'{"method":"io.gatewayd.Gateway.Resume"}\\0')
                reply = b""
                while not reply.endswith(b"\\0"): reply += s.recv(65536)
                return reply[:-1].decode()
            r, w = os.pipe()
            a = os.fork()
            if a == 0:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                print(call(s), flush=True)
                if os.fork() == 0:
                    os.close(w)
                    os.read(r, 1)
                    print(call(s), flush=True)
                os._exit(0)
            os.waitpid(a, 0)
            os.write(w, b"x")
            """
        let raw = try await onThread { try run(["/usr/bin/python3", "-c", script, gateway.socket]) }
        let lines = raw.standardOutput.split(separator: "\n")
        #expect(lines.count == 2, "\(raw.standardOutput) \(raw.standardError)")
        guard lines.count == 2 else { return }
        #expect(try VarlinkCoding.decodeReply(Array(lines[0].utf8)).error == nil, "A may: \(lines[0])")
        let after = try VarlinkCoding.decodeReply(Array(lines[1].utf8))
        #expect(after.error == VarlinkError.permissionDenied, "the connection's process is gone: \(lines[1])")
        #expect(after.parameters["message"]?.string?.contains("has exited") == true, "\(lines[1])")
    }

    @Test("a process of the same uid that gatewayd did not start may steer it; one it started may not")
    func unrelatedProcessAllowed() async throws {
        // A stand-in daemon: a shell that starts gatewayctl when told to. The server runs in
        // this test process, but the lineage names the shell as the daemon.
        let command = FIFOSignal()
        let daemon = try TestChild(["/bin/sh", "-c", "read -r line < \"$1\"; eval \"$line\"", "sh", command.path])
        defer { kill(daemon.pid, SIGKILL); daemon.wait() }
        let gateway = try await Gateway.start(permissions: Gateway.permissions(lineage: ProcessLineage(daemonPID: daemon.pid, serviceCgroup: nil)))
        defer { Task { await gateway.stop() } }
        // Unrelated: started by this test process, same uid.
        #expect(try await gateway.ctl(["quick", "run", "hello"]).status == 0)
        // Started by the stand-in daemon.
        command.send("\(Self.ctl) --socket \(gateway.socket) quick run hello; echo \"rc=$?\" > \(command.path).out")
        #expect(try await onThread { daemon.wait() } == 0)
        let result = try String(contentsOfFile: command.path + ".out", encoding: .utf8)
        #expect(result == "rc=125\n", "quick run exits 125 when refused")
    }

    // MARK: Groups, and reload

    @Test("a peer whose supplementary groups hold admin_group may; after a reload to another group it may not",
          .enabled(if: geteuid() == 0, "needs root to start peers as nobody with chosen groups"))
    func supplementaryGroupsAndReload() async throws {
        let gateway = try await Gateway.start(mode: 0o666, yaml: "control: {admin_group: adm}\n" + Gateway.yaml)
        defer { Task { await gateway.stop() } }
        // nobody, with adm only as a supplementary group (the group database does not list
        // nobody in adm: only the process has it).
        #expect(try await gateway.ctl(["resume"], asNobody: true, groups: ["adm"]).status == 0)
        #expect(try await gateway.ctl(["resume"], asNobody: true).status == 4)
        #expect(try await gateway.ctl(["resume"], asNobody: true, groups: ["staff"]).status == 4)
        try gateway.writeConfig("control: {admin_group: staff}\n" + Gateway.yaml)
        #expect(try await gateway.call(.reload).error == nil)
        #expect(try await gateway.ctl(["resume"], asNobody: true, groups: ["adm"]).status == 4, "the old group still passes")
        #expect(try await gateway.ctl(["resume"], asNobody: true, groups: ["staff"]).status == 0)
    }

    @Test("reload --check of another file's text: root and the daemon's user only, not the admin group (the daemon would read the files it names)",
          .enabled(if: geteuid() == 0, "needs root to start peers as nobody with chosen groups"))
    func checkedTextNeedsDaemonUser() async throws {
        let gateway = try await Gateway.start(mode: 0o666, yaml: "control: {admin_group: adm}\n" + Gateway.yaml)
        defer { Task { await gateway.stop() } }
        let file = gateway.directory + "/other.yaml"
        try "platforms: {webhook: {listen: \"127.0.0.1:1\", secret_file: /etc/shadow}}\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        let member = try await gateway.ctl(["reload", "--check", "--config", file], asNobody: true, groups: ["adm"])
        #expect(member.status == 4, "\(member.standardOutput) \(member.standardError)")
        #expect(member.standardError.contains("gatewayd --check-config --config FILE"), "\(member.standardError)")
        #expect(!member.standardOutput.contains("valid"), "nothing about the file")
        #expect(try await gateway.ctl(["reload", "--check"], asNobody: true, groups: ["adm"]).status == 0, "the daemon's own file: fine")
        #expect(try await gateway.ctl(["reload", "--check", "--config", file]).status != 4, "root may")
    }

    @Test("an admin_group that names no group is reported, and gives nobody rights")
    func unknownGroup() {
        let permissions = ControlPermissions(daemonUID: 990, adminGroup: "no-such-group-here", lineage: Gateway.unrelatedLineage)
        #expect(permissions.adminGroupID == nil)
        #expect(permissions.adminGroupProblem?.contains("no-such-group-here") == true)
        #expect(ControlPermissions(daemonUID: 990, adminGroup: "adm", lineage: Gateway.unrelatedLineage).adminGroupID == 4)
    }
}
