import Foundation
import GatewayTestSupport
import Systemd
import Testing

@Suite("Socket activation", .ownThread)
struct SocketActivationTests {
    @Test("nothing passed means an empty list: the daemon binds its socket itself")
    func nothingPassed() throws {
        #expect(try SocketActivation.listeners().isEmpty)
        #expect(try SocketActivation.listener(named: "control") == nil)
    }

    /// Writes unit files into a fresh directory.
    func units(_ files: [String: String]) throws -> String {
        let directory = makeTemporaryDirectory("gatewayd-units")
        for (name, text) in files {
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test("a real systemd user manager starts the service on first connect and passes fd 3 by name",
          .timeLimit(.minutes(1)), .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
    func realManager() throws {
        let directory = try units([
            "gwtest.socket": """
                [Socket]
                ListenStream=%t/gwtest.sock
                FileDescriptorName=control
                """,
            "gwtest.service": """
                [Service]
                ExecStart=\(TestPaths.testHelper) socket-echo
                """,
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = try run([TestPaths.sandboxScript, "user-manager", directory, "/bin/sh", "-c", """
            systemctl --user start gwtest.socket || exit 1
            echo "before=$(systemctl --user show -p ActiveState --value gwtest.service)"
            "$1" connect "$XDG_RUNTIME_DIR/gwtest.sock"
            echo "main_pid=$(systemctl --user show -p MainPID --value gwtest.service)"
            """, "sh", TestPaths.testHelper], environment: environment(with: [:]))
        #expect(output.status == 0, "\(output.standardError)")
        let lines = output.standardOutput.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(output.standardOutput)")
        #expect(lines[0] == "before=inactive")
        #expect(lines[1].hasPrefix("name=control fd=3 count=1 server_pid="))
        let mainPID = lines[2].dropFirst("main_pid=".count)
        #expect(lines[1].contains("server_pid=\(mainPID) "), "served by \(lines[1]), MainPID \(mainPID)")
    }

    @Test("a passed socket of the wrong kind is refused with a reason",
          .timeLimit(.minutes(1)), .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
    func wrongSocketType() throws {
        let directory = try units([
            "gwdgram.socket": """
                [Socket]
                ListenDatagram=%t/gwdgram.sock
                """,
            "gwdgram.service": """
                [Service]
                ExecStart=\(TestPaths.testHelper) socket-echo
                """,
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = try run([TestPaths.sandboxScript, "user-manager", directory, "/bin/bash", "-c", """
            systemctl --user start gwdgram.socket || exit 1
            systemctl --user start --wait gwdgram.service
            systemctl --user show -p ExecMainStatus --value gwdgram.service
            # The service's stderr reaches journald over a stream that `journalctl --sync` does not
            # wait for, and a process gone before journald reads its line leaves no cgroup to name
            # its unit by: follow the whole (private) journal until the refusal arrives (bounded).
            coproc RECORDS { exec journalctl -f -n all -o cat --no-pager; }
            follower=$RECORDS_PID
            while IFS= read -r -t 20 line <&"${RECORDS[0]}"; do
              echo "$line"
              case $line in *"is not a listening"*) break;; esac
            done
            kill "$follower"; wait "$follower" 2>/dev/null; true
            """], environment: environment(with: [:]))
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput.hasPrefix("1\n"), "\(output.standardOutput)")
        #expect(output.standardOutput.contains("is not a listening Unix stream socket"))
    }
}
