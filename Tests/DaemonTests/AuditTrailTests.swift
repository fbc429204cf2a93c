import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

@Suite("The audit trail in a real journal", .timeLimit(.minutes(2)), .ownThread,
       .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
struct AuditTrailTests {
    @Test("a drain by root, a drain refused to nobody, a chat quick command: records in journald, read back by gatewayctl audit")
    func drainByRootRefusedToNobody() throws {
        let scenario = Scenario(config: """
            control: {socket_mode: "0666"}
            quick_commands:
              up: {type: exec, command: "echo up"}
            """)
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT" || exit 1
            # nobody reaches the socket (the sandbox's runtime directory is root's alone).
            chmod 0755 "$XDG_RUNTIME_DIR" "${XDG_RUNTIME_DIR%/*}"
            $CTL drain --no-wait > /dev/null || exit 2
            setpriv --reuid=nobody --regid=nogroup --clear-groups $CTL drain --no-wait --drain-timeout 5 2> /dev/null
            echo "nobody_rc=$?"
            $CTL resume > /dev/null || exit 3
            echo "chat=$($CTL send /up)"
            # A built-in's record comes from the dispatcher's audit sink (the chat side).
            echo "stop=$($CTL send /stop)"
            wait_record "quick command /up" GATEWAY_AUDIT=1 || exit 5
            wait_record "/stop by local:root" GATEWAY_AUDIT=1 || exit 4
            wait_record "SendMessage by" GATEWAY_AUDIT=1 'GATEWAY_ARGUMENTS={"text":"/stop"}' || exit 7
            $CTL audit --unit "$UNIT" --json > audit.json; echo "audit_rc=$?"
            echo "last=$($CTL audit --unit "$UNIT" --json -n 1 | wc -l)"
            echo "text=$($CTL audit --unit "$UNIT" | grep -c 'Drain refused to local:nobody (uid 65534, pid [0-9]*, gatewayctl): ')"
            echo "text_args=$($CTL audit --unit "$UNIT" | grep -c 'local:nobody .* {"timeout_usec":5000000}$')"
            echo "since=$($CTL audit --unit "$UNIT" --since '+1h' | wc -l)"
            echo "denied_ids=$(journalctl -o cat --no-pager MESSAGE_ID=\(GatewayMessageID.auditDenied) | wc -l)"
            # A record another process writes with the same fields is not the unit's.
            printf 'MESSAGE=FORGED Drain by local:root\\nGATEWAY_AUDIT=1\\n' | logger --journald
            wait_record FORGED GATEWAY_AUDIT=1 || exit 6
            echo "forged=$($CTL audit --unit "$UNIT" | grep -c FORGED)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["nobody_rc"] == "4", "permission denied")
        #expect(result["chat"] == "up")
        #expect(result["stop"] == GatewayText.nothingToStop, "\(output.standardOutput)")
        #expect(result["audit_rc"] == "0")
        #expect(result["last"] == "1", "-n 1")
        #expect(result["text"] == "1", "\(output.standardOutput)")
        #expect(result["text_args"] == "1", "the text line ends with the arguments")
        #expect(result["since"] == "0", "--since reaches journalctl")
        #expect(result["denied_ids"] == "1")
        #expect(result["forged"] == "0", "a record from another process (not the unit's) is not in the trail")
        let lines = (try? String(contentsOfFile: scenario.directory + "/audit.json", encoding: .utf8)) ?? ""
        let records = lines.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let summary = records.map { "\($0["action"] ?? "-") \($0["caller"] ?? "-") \(($0["outcome"] as? String)?.prefix(7) ?? "-")" }
        #expect(summary == [
            "Drain local:root ok", "Drain local:nobody denied:", "Resume local:root ok", "/up local:root ok",
            "SendMessage local:root ok", "/stop local:root ok", "SendMessage local:root ok",
        ], "\(lines)")
        guard records.count == 7 else { return }
        #expect(records[0]["peer_uid"] as? Int == 0)
        #expect(records[0]["peer_comm"] as? String == "gatewayctl")
        #expect((records[0]["peer_pid"] as? Int ?? 0) > 0)
        #expect(records[1]["peer_uid"] as? Int == 65534)
        #expect(records[1]["arguments"] as? String == #"{"timeout_usec":5000000}"#)
        #expect(records[1]["message_id"] as? String == GatewayMessageID.auditDenied)
        #expect(records[3]["chat"] as? String == "local:root", "the chat identity of the quick command")
        #expect(records[3]["quick_command"] as? String == "up")
        #expect(records[3]["exit_status"] as? Int == 0)
        #expect(records[3]["message_id"] as? String == GatewayMessageID.quickCommand, "the command's own record is its audit record")
        #expect(records[4]["arguments"] as? String == #"{"text":"/up"}"#)
        #expect(records[5]["chat"] as? String == "local:root")
        #expect(records[5]["message_id"] as? String == GatewayMessageID.audit)
    }
}
