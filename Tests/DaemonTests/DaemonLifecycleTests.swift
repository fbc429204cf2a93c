import Foundation
import GatewayTestSupport
import Testing

/// The built gatewayd as systemd runs it: a Type=notify user unit under a real manager, observed
/// from systemd's side.
@Suite("gatewayd under systemd", .timeLimit(.minutes(1)), .ownThread,
       .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
struct DaemonLifecycleTests {
    @Test("ready, reload and stop as systemd sees them, with journal records")
    func lifecycle() throws {
        let directory = makeTemporaryDirectory("gatewayd-units")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // An empty file: the built-in defaults (a file named with --config must exist).
        try "".write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        try """
            [Service]
            Type=notify
            ExecStart=\(TestPaths.product("gatewayd")) --config \(directory)/gatewayd.yaml --socket %t/gatewayd-test.sock
            ExecReload=/bin/kill -HUP $MAINPID
            TimeoutStartSec=10
            # As StateDirectory= sets it: with no state_dir in the file, the durable queue goes there.
            Environment=STATE_DIRECTORY=\(directory)/state
            """.write(toFile: directory + "/gatewayd-test.service", atomically: true, encoding: .utf8)
        let output = try run([TestPaths.sandboxScript, "user-manager", directory, "/bin/sh", "-c", """
            show() { systemctl --user show -p ActiveState,SubState,StatusText,Result,ExecMainStatus gatewayd-test.service | sort | tr '\\n' ' '; echo; }
            systemctl --user start gatewayd-test.service || exit 1
            show
            systemctl --user reload gatewayd-test.service || exit 1
            # systemd 252's reload returns when ExecReload exits, before READY=1: no event to
            # await from here, so a bounded wait for the state.
            for _ in $(seq 100); do
              [ "$(systemctl --user show -p ActiveState --value gatewayd-test.service)" = active ] && break
              sleep 0.02
            done
            show
            systemctl --user stop gatewayd-test.service
            show
            journalctl --sync
            # By identifier, not _SYSTEMD_UNIT=: journald reads a record's unit from the sender's
            # /proc entry when it gets to the record, and on a loaded machine the daemon has exited
            # by then (no unit field at all). This journal is the sandbox's own: only this test's
            # gatewayd writes to it.
            journalctl -o json --no-pager SYSLOG_IDENTIFIER=gatewayd
            """], environment: environment(with: [:]))
        #expect(output.status == 0, "\(output.standardError)")
        let lines = output.standardOutput.split(separator: "\n").map(String.init)
        #expect(FileManager.default.fileExists(atPath: directory + "/state/state.db"), "STATE_DIRECTORY is where the store goes")
        try #require(lines.count >= 3, "\(output.standardOutput)")
        #expect(lines[0].contains("ActiveState=active"))
        #expect(lines[0].contains("StatusText=Running: 1 platform, 0 turns, 0 exec"))
        #expect(lines[1].contains("ActiveState=active"), "after reload: \(lines[1])")
        #expect(lines[2].contains("ActiveState=inactive"))
        #expect(lines[2].contains("Result=success"))
        #expect(lines[2].contains("ExecMainStatus=0"))
        // Native journal records, not text on stderr: their metadata became fields.
        let events = try lines.dropFirst(3).compactMap { line in
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }.compactMap { $0["GATEWAY_EVENT"] as? String }
        // The dispatcher is running (its state record) before the control socket serves.
        #expect(events.starts(with: ["state", "socket"]), "\(events)")
        #expect(events.contains("started"))
        #expect(events.contains("reload"))
        #expect(events.last == "stopped")
    }
}
