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
@Suite("Faults of the host's services", .timeLimit(.minutes(2)), .serialized)
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
}
