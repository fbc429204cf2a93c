import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

/// What gatewayd acknowledged survives kill -9, restarts, a full disk: tested on the built
/// daemon under a real systemd user manager and journald.
@Suite("gatewayd durable queue under systemd", .timeLimit(.minutes(2)), .ownThread,
       .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
struct DurabilityScenarioTests {
    /// An agent that appends each turn's input (one JSON line) to processed.log once it is done;
    /// a text containing "slow" first waits at the scenario's gate (`release_turn`).
    static func config(_ scenario: Scenario) -> String {
        """
        busy_input_mode: queue
        agent:
          backend: command
          command: ["/bin/sh", "-c", "read -r line; case $line in *slow*) \(scenario.waitAtGate);; esac; printf '%s\\\\n' \\"$line\\" >> \(scenario.directory)/processed.log; echo ok"]
        drain: {timeout: 30}
        quick_commands:
          up: {type: exec, command: "echo up"}
        """
    }

    /// The `text` of each line of processed.log, in order.
    static func processed(_ directory: String) -> [String] {
        let log = (try? String(contentsOfFile: directory + "/processed.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["text"] as? String
        }
    }

    static let waitForProcessed = """
        # Waits (bounded) until processed.log has $1 lines: the agent's side effect, nothing to await.
        wait_processed() { for _ in $(seq 750); do [ "$(cat processed.log 2>/dev/null | wc -l)" -ge "$1" ] && return 0; sleep 0.02; done; echo "processed.log has $(cat processed.log 2>/dev/null | wc -l) lines, not $1" >&2; return 1; }

        """

    @Test("kill -9 with messages queued: after systemd restarts it, each is processed exactly once, in order")
    func killNine() throws {
        let scenario = Scenario { Self.config($0) }
        defer { scenario.remove() }
        let output = try scenario.run(Self.waitForProcessed + """
            systemctl --user start "$UNIT" || exit 1
            first=$(show MainPID)
            $CTL send "slow m1" > m1.out 2>&1 &
            wait_event '"turns_in_flight":1' || exit 2
            for i in 2 3 4 5; do $CTL send "m$i" > m$i.out || exit 3; done
            echo "queued=$($CTL --json sessions | grep -o '"queued":[0-9]*')"
            # The whole unit, agent included, as a crash or the OOM killer would.
            systemctl --user kill --signal=SIGKILL "$UNIT"
            wait_restarted "$first" || exit 4
            release_turn || exit 6
            wait_processed 5 || exit 5
            echo "ack2=$(cat m2.out)"
            echo "ack3=$(cat m3.out)"
            echo "restarts=$(show NRestarts)"
            journalctl --sync
            echo "replies=$(journalctl -o cat --no-pager GATEWAY_EVENT=reply | grep -c 'ok')"
            echo "recovered=$(journalctl -o cat --no-pager GATEWAY_EVENT=recovered)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["queued"] == "\"queued\":4")
        #expect(Self.processed(scenario.directory) == ["slow m1", "m2", "m3", "m4", "m5"],
                "the turn cut by the kill is retried; the four acknowledged messages run once each, in order")
        #expect(result["ack2"] == GatewayText.queuedAck)
        #expect(result["ack3"] == "", "acknowledgements are rate-limited; the message is kept all the same")
        #expect(result["restarts"] == "1")
        #expect(result["replies"] == "5", "each replayed turn's reply reached the journal (the local platform's outbox)")
        #expect(result["recovered"]?.hasPrefix("state store: 5 message(s) to replay") == true)
    }

    @Test("queue mode over the control socket: the reply to a message told \"Queued\" reaches gatewayctl events and the journal")
    func queuedReplyIsAnnounced() throws {
        let scenario = Scenario { Self.config($0) }
        defer { scenario.remove() }
        let output = try scenario.run(Self.waitForProcessed + """
            systemctl --user start "$UNIT" || exit 1
            $CTL send "slow m1" > m1.out 2>&1 &
            wait_event '"turns_in_flight":1' || exit 2
            echo "ack=$($CTL send "queued m2")"
            coproc EVENTS { exec $CTL --json events; }
            # The first line (the status) says the subscription is in place.
            IFS= read -r -t 20 line <&"${EVENTS[0]}" || exit 5
            release_turn || exit 3
            wait_processed 2 || exit 4
            reply=
            while IFS= read -r -t 20 line <&"${EVENTS[0]}"; do
              case $line in *'"kind":"reply"'*) reply=$line; break;; esac
            done
            kill $EVENTS_PID
            echo "event=$reply"
            journalctl --sync
            echo "journal=$(journalctl -o cat --no-pager GATEWAY_EVENT=reply GATEWAY_PLATFORM=local | grep -c 'ok')"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["ack"] == GatewayText.queuedAck)
        #expect(result["event"]?.contains(#""text":"ok""#) == true, "\(result["event"] ?? "")")
        #expect(result["event"]?.contains(#""platform":"local""#) == true)
        #expect(result["journal"] == "1", "the queued message's reply, and only it, had no request waiting")
    }

    @Test("restart drain with a busy session: the queued message is answered after the restart, and /restart's chat is told")
    func queuedAcrossRestart() throws {
        let scenario = Scenario { Self.config($0) }
        defer { scenario.remove() }
        let output = try scenario.run(Self.waitForProcessed + """
            systemctl --user start "$UNIT" || exit 1
            first=$(show MainPID)
            $CTL send "slow task" > turn.out &
            wait_event '"turns_in_flight":1' || exit 2
            echo "restart=$($CTL send /restart)"
            echo "follow=$($CTL send "follow up")"
            release_turn || exit 5
            wait
            echo "turn=$(cat turn.out)"
            wait_restarted "$first" || exit 3
            wait_processed 2 || exit 4
            journalctl --sync
            echo "notice=$(journalctl -o cat --no-pager GATEWAY_EVENT=reply | grep -c 'Gateway restarted successfully')"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["restart"] == GatewayText.drainingBeforeRestart(1))
        #expect(result["follow"] == GatewayText.queuedForRestart)
        #expect(result["turn"] == "ok", "the turn in flight finished inside the drain")
        #expect(Self.processed(scenario.directory) == ["slow task", "follow up"])
        #expect(result["notice"] == "1")
    }

    @Test("disk full: exec quick commands answer, agent messages get a clear error, what was stored is kept")
    func diskFull() throws {
        let scenario = Scenario { Self.config($0) }
        let state = scenario.directory + "/state"
        defer { scenario.remove() }
        let output = try scenario.run(Self.waitForProcessed + """
            # A small file system of its own for state_dir (the sandbox has a private mount namespace).
            mkdir -p \(state) && mount -t tmpfs -o size=1m tmpfs \(state) || exit 1
            trap 'umount -l \(state)' EXIT
            systemctl --user start "$UNIT" || exit 2
            $CTL send "slow first" > first.out &
            wait_event '"turns_in_flight":1' || exit 3
            echo "kept=$($CTL send "stored before")"
            dd if=/dev/zero of=\(state)/filler bs=4k 2>/dev/null
            echo "df=$(df --output=avail \(state) | tail -1 | tr -d ' ')"
            echo "refused=$($CTL send "while full")"
            echo "quick_run=$($CTL quick run up) rc=$?"
            echo "chat_exec=$($CTL send /up)"
            rm \(state)/filler
            echo "after=$($CTL send "after")"
            release_turn || exit 5
            wait_processed 3 || exit 4
            echo "active=$(show ActiveState)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["kept"] == GatewayText.queuedAck)
        #expect(result["df"] == "0")
        #expect(result["refused"]?.hasPrefix("⚠️ Your message was not taken: the disk holding the state store is full") == true,
                "\(result["refused"] ?? "nil")")
        #expect(result["quick_run"] == "up rc=0")
        #expect(result["chat_exec"] == "up")
        #expect(result["after"] == "", "queued behind the slow turn, after the 30 s acknowledgement")
        #expect(Self.processed(scenario.directory) == ["slow first", "stored before", "after"])
        #expect(result["active"] == "active")
    }

    @Test("a corrupt state.db: gatewayd starts, moves it aside, and says so in STATUS= and the journal")
    func corruptStore() throws {
        let scenario = Scenario { Self.config($0) }
        defer { scenario.remove() }
        let output = try scenario.run("""
            mkdir -p state && head -c 16384 /dev/urandom > state/state.db
            systemctl --user start "$UNIT" || exit 1
            echo "active=$(show ActiveState)"
            echo "status=$(show StatusText)"
            echo "moved=$(ls state | grep -c '^state.db.corrupt-')"
            echo "works=$($CTL send /up)"
            journalctl --sync
            echo "journal=$(journalctl -o cat --no-pager MESSAGE_ID=\(GatewayMessageID.storeProblem) | grep -c 'moved to')"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["active"] == "active")
        #expect(result["status"]?.contains("; state store \(scenario.directory)/state/state.db was corrupt") == true,
                "\(result["status"] ?? "nil")")
        #expect(result["moved"] == "1")
        #expect(result["works"] == "up")
        #expect(result["journal"] == "1")
    }
}

@Suite("gatewayd webhook under systemd", .timeLimit(.minutes(1)), .ownThread,
       .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
struct WebhookScenarioTests {
    @Test("during a stop drain, a signed webhook /up is answered and plain text gets the drain reply")
    func webhookDuringDrain() throws {
        let port = freeLoopbackPort()
        let scenario = Scenario { scenario in """
            agent:
              backend: command
              command: ["/bin/sh", "-c", "read -r line; \(scenario.waitAtGate); echo turn done"]
            drain: {timeout: 20}
            quick_commands:
              up: {type: exec, command: "echo up"}
            access: {allowed_users: ["local:*", "webhook:*"], admins: ["local:*", "webhook:ops"]}
            platforms:
              webhook: {listen: "127.0.0.1:\(port)", secret_file: \(scenario.directory)/secret}
            """
        }
        defer { scenario.remove() }
        try "s3cret\n".write(toFile: scenario.directory + "/secret", atomically: true, encoding: .utf8)
        let output = try scenario.run("""
            sign() { python3 -c 'import hmac,hashlib,sys; print("sha256=" + hmac.new(b"s3cret", sys.argv[1].encode(), hashlib.sha256).hexdigest())' "$1"; }
            post() { curl -sS --max-time 10 -w ' %{http_code}' -H "X-Hub-Signature-256: $(sign "$1")" --data-binary "$1" http://127.0.0.1:\(port)/webhook; }
            systemctl --user start "$UNIT" || exit 1
            echo "platforms=$($CTL --json status | grep -o '"platforms":\\[[^]]*\\]')"
            echo "health=$($CTL --json status | grep -o '"platform_health":\\[[^]]*\\]')"
            echo "status_text=$($CTL status | grep -A1 Platforms: | tr '\\n' '|')"
            $CTL send "long task" > turn.out &
            wait_event '"turns_in_flight":1' || exit 2
            systemctl --user stop --no-block "$UNIT"
            wait_event '"state":"draining"' || exit 3
            echo "exec=$(post '{"chat":"ops-room","user":"ops","text":"/up"}')"
            echo "plain=$(post '{"chat":"ops-room","user":"dev","text":"hello"}')"
            release_turn || exit 5
            wait_for ActiveState inactive || exit 4
            wait
            echo "result=$(show Result)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["platforms"] == #""platforms":["local","webhook"]"#)
        #expect(result["health"]?.contains(#"{"detail":"listening on 127.0.0.1:\#(port)","health":"up","name":"webhook"}"#) == true,
                "\(result["health"] ?? "nil")")
        #expect(result["status_text"]?.contains("webhook (up: listening on 127.0.0.1:\(port))") == true, "\(result["status_text"] ?? "nil")")
        #expect(result["exec"] == #"{"replies":["up"]} 200"#)
        #expect(result["plain"] == #"{"replies":["⏳ Gateway is shutting down and is not accepting new work right now."]} 200"#)
        #expect(result["result"] == "success")
    }
}
