import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Faults of what the daemon talks to on the host (#20): a journald that stops reading, a service
/// manager that does not read its notify socket. Each time exec quick commands and messages still
/// answer within their bound, and a stop still ends the process.
@Suite("Faults of the host's services", .timeLimit(.minutes(2)), .serialized, .ownThread)
struct FaultTests {
    /// A control client in Python: `n` calls on one connection, alternating an exec quick command
    /// and a message to an agent that cannot be reached (an error record each); prints how many
    /// were answered and the slowest.
    static let client = #"""
        import json, socket, sys, time
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
        buf = b""
        def call(method, params):
            global buf
            s.sendall(json.dumps({"method": "io.gatewayd.Gateway." + method, "parameters": params}).encode() + b"\0")
            while b"\0" not in buf:
                chunk = s.recv(65536)
                if not chunk: raise SystemExit("closed")
                buf += chunk
            reply, _, buf = buf.partition(b"\0")
            return json.loads(reply)
        slowest, ok, n = 0, 0, int(sys.argv[2])
        for i in range(n):
            t = time.monotonic()
            r = call("RunQuickCommand", {"name": "hi"}) if i % 2 == 0 else call("SendMessage", {"text": "turn %d" % i, "chat": "c%d" % (i % 50)})
            slowest = max(slowest, time.monotonic() - t)
            if "error" not in r: ok += 1
        print("answered %d of %d, slowest %d ms" % (ok, n, slowest * 1000))
        """#

    func writeFiles(_ directory: String) throws {
        try Self.client.write(toFile: directory + "/client.py", atomically: true, encoding: .utf8)
        try """
            quick_commands:
              hi: {type: exec, command: "echo hi"}
            agent:
              backend: openai
              openai: {base_url: "http://127.0.0.1:9/v1", model: none, retries: 0}
            state_dir: \(directory)/state
            """.write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
    }

    @Test("journald frozen (SIGSTOP) while 3,000 calls flow: every one answered in under a second, the records past the queue dropped and counted, reported once journald reads again; the stop ends the process",
          .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
    func journaldFrozen() throws {
        let directory = makeTemporaryDirectory("gatewayd-fault-journald")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFiles(directory)
        let script = #"""
            gatewayd=$1 gatewayctl=$2 dir=$3
            "$gatewayd" --config "$dir/gatewayd.yaml" --socket "$dir/control" --log-target journal & pid=$!
            for _ in $(seq 400); do "$gatewayctl" --socket "$dir/control" status >/dev/null 2>&1 && break; sleep 0.025; done
            kill -STOP "$SANDBOX_JOURNALD_PID"
            timeout 60 python3 "$dir/client.py" "$dir/control" 3000
            "$gatewayctl" --socket "$dir/control" metrics | grep '^gatewayd_log_records_dropped_total '
            kill -CONT "$SANDBOX_JOURNALD_PID"
            kill -TERM $pid; wait $pid; echo "exit $?"
            journalctl --sync
            journalctl -t gatewayd -o cat | grep -c "log records dropped: the log was not keeping up"
            """#
        let output = try run([TestPaths.sandboxScript, "journald", "/bin/bash", "-c", script, "fault",
                              TestPaths.product("gatewayd"), TestPaths.product("gatewayctl"), directory],
                             environment: environment(with: [:]))
        let lines = output.standardOutput.split(separator: "\n").map(String.init)
        let context = "\(output.standardOutput)\n\(output.standardError)"
        #expect(lines.first == "answered 3000 of 3000" || lines.first?.hasPrefix("answered 3000 of 3000,") == true, "\(context)")
        let slowest = lines.first.flatMap { $0.split(separator: " ").dropLast().last }.flatMap { Int($0) } ?? .max
        #expect(slowest < 1000, "\(context)")
        let dropped = lines.first { $0.hasPrefix("gatewayd_log_records_dropped_total ") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(dropped > 0, "a frozen journald costs records, counted: \(context)")
        #expect(lines.contains("exit 0"), "\(context)")
        #expect(Int(lines.last ?? "") ?? 0 >= 1, "the drop is reported once journald reads again: \(context)")
    }

    @Test("a NOTIFY_SOCKET nobody reads: calls answered, the stuck sd_notify logged, notifications dropped, and SIGTERM still ends the process at once",
          .ownThread)
    func notifySocketUnread() throws {
        let directory = makeTemporaryDirectory("gatewayd-fault-notify")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFiles(directory)
        // A datagram socket bound and never read: its queue fills after a few datagrams.
        let notify = directory + "/notify"
        let holder = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in notify.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0, "bind \(notify): errno \(errno)")
        let log = directory + "/gatewayd.log"
        let logFile = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let daemon = try TestChild(
            [TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml", "--socket", directory + "/control",
             "--log-target", "console"],
            environment: environment(with: ["NOTIFY_SOCKET": notify, "WATCHDOG_USEC": "100000"]),
            standardOutput: .null, standardError: .descriptor(logFile))
        close(logFile)
        let client = try run(["/bin/sh", "-c", """
            for _ in $(seq 400); do [ -S "$1/control" ] && break; sleep 0.025; done
            timeout 60 python3 "$1/client.py" "$1/control" 200
            """, "client", directory])
        // The watchdog's pings fill the socket's queue; the call that blocks is left behind after 1 s.
        let deadline = ContinuousClock.now + .seconds(30)
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("event=notify_stuck"), ContinuousClock.now < deadline {
            usleep(20_000)
        }
        let started = ContinuousClock.now
        kill(daemon.pid, SIGTERM)
        let exited = waitForExit(of: daemon.pid, timeout: .seconds(20))
        if !exited { kill(daemon.pid, SIGKILL) }
        let status = daemon.wait()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(client.standardOutput.hasPrefix("answered 200 of 200"), "\(client.standardOutput) \(client.standardError)")
        #expect(exited && status == 0, "still running after SIGTERM, or exit \(status): \(text)")
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(text.contains("event=notify_stuck"), "\(text)")
    }

    /// As root: a child that becomes nobody opens 10,000 control connections and holds them
    /// without a byte, 1,000 webhook clients send half a request head each and stall; meanwhile
    /// root runs exec quick commands, timed. Prints the figures, one per line.
    static let hostilePeers = #"""
        import json, os, resource, socket, sys, time
        control, webhook_port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
        def rss(): return int([l for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS:")][0].split()[1])
        def call(s, method, params):
            s.sendall(json.dumps({"method": "io.gatewayd.Gateway." + method, "parameters": params}).encode() + b"\0")
            buf = b""
            while b"\0" not in buf:
                chunk = s.recv(65536)
                if not chunk: raise OSError("closed")
                buf += chunk
            return json.loads(buf.partition(b"\0")[0])
        before = rss()
        ready_r, ready_w = os.pipe(); release_r, release_w = os.pipe()
        child = os.fork()
        if child == 0:
            os.setgroups([]); os.setgid(65534); os.setuid(65534)
            held = []
            for _ in range(10000):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try: s.connect(control); held.append(s)
                except OSError: s.close()
            os.write(ready_w, b"x"); os.read(release_r, 1); os._exit(0)
        os.read(ready_r, 1)
        slow = []
        for _ in range(1000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect(("127.0.0.1", webhook_port)); s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n"); slow.append(s)
            except OSError: s.close()
        slowest, answered = 0.0, 0
        for _ in range(20):
            t = time.monotonic()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(10)
            try:
                s.connect(control)
                if call(s, "RunQuickCommand", {"name": "hi"}).get("error") is None: answered += 1
            except OSError: pass
            s.close()
            slowest = max(slowest, time.monotonic() - t)
        fds = len(os.listdir("/proc/%d/fd" % pid))
        print("answered %d" % answered); print("slowest_ms %d" % (slowest * 1000))
        print("daemon_fds %d" % fds); print("rss_growth_kib %d" % (rss() - before))
        os.write(release_w, b"x"); os.waitpid(child, 0)
        for s in slow: s.close()
        """#

    @Test("10,000 control connections held by another user and 1,000 stalled webhook clients: exec quick commands answer in under a second, descriptors and memory stay bounded",
          .ownThread, .enabled(if: geteuid() == 0, "needs root to hold connections as another user"))
    func hostilePeers() throws {
        let directory = makeTemporaryDirectory("gatewayd-fault-peers")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chmod(directory, 0o755)
        let port = freeLoopbackPort()
        try Data("s3cret".utf8).write(to: URL(fileURLWithPath: directory + "/webhook.secret"))
        try """
            control: {socket_mode: "0666"}
            quick_commands:
              hi: {type: exec, command: "echo hi"}
            platforms:
              webhook: {listen: "127.0.0.1:\(port)", secret_file: \(directory)/webhook.secret}
            state_dir: \(directory)/state
            """.write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        try Self.hostilePeers.write(toFile: directory + "/peers.py", atomically: true, encoding: .utf8)
        let daemon = try TestChild(
            [TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml", "--socket", directory + "/control",
             "--log-target", "console"],
            environment: environment(with: [:]), standardOutput: .null, standardError: .null)
        defer {
            kill(daemon.pid, SIGTERM)
            _ = waitForExit(of: daemon.pid, timeout: .seconds(30))
            _ = daemon.wait()
        }
        let output = try run(["/bin/sh", "-c", """
            for _ in $(seq 400); do [ -S "$1/control" ] && break; sleep 0.025; done
            timeout 100 python3 "$1/peers.py" "$1/control" "$2" "$3"
            """, "peers", directory, String(port), String(daemon.pid)])
        var figures: [String: Int] = [:]
        for line in output.standardOutput.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Int(parts[1]) { figures[String(parts[0])] = value }
        }
        let context = "\(output.standardOutput) \(output.standardError)"
        #expect(figures["answered"] == 20, "\(context)")
        #expect((figures["slowest_ms"] ?? .max) < 1000, "\(context)")
        // The control socket's caps (256 in all, 32 per user) and the webhook's max_connections (256).
        #expect((figures["daemon_fds"] ?? .max) < 700, "\(context)")
        // Not under AddressSanitizer: its quarantine holds freed memory back (up to 256 MiB), so the
        // daemon's RSS there says nothing about what it keeps (101 MiB measured).
        if Sanitizer.active != "address" {
            #expect((figures["rss_growth_kib"] ?? .max) < 32 * 1024, "\(context)")
        }
    }
}
