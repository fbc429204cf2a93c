import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

@Suite("gatewayd scenarios under systemd", .timeLimit(.minutes(2)), .ownThread,
       .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
struct DaemonScenarioTests {
    /// `agent` is the agent command's shell script (it reads the turn's one JSON line first).
    static func config(agent: String = "read -r line; sleep 2; echo turn done") -> String {
        """
        agent:
          backend: command
          command: ["/bin/sh", "-c", "\(agent)"]
        drain: {timeout: 20}
        quick_commands:
          up: {type: exec, command: "echo up and running"}
        """
    }

    @Test("the headline: during a stop drain, quick run and /up in chat work, plain text is refused; exit 0")
    func execDuringStopDrain() throws {
        let scenario = Scenario { Self.config(agent: "read -r line; \($0.waitAtGate); echo turn done") }
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT" || exit 1
            $CTL send "long task" > turn.out &
            wait_event '"turns_in_flight":1' || exit 2
            systemctl --user stop --no-block "$UNIT"
            wait_event '"state":"draining"' || exit 3
            echo "active_state=$(show ActiveState)"
            echo "status_text=$(show StatusText)"
            echo "quick_run=$($CTL quick run up) rc=$?"
            echo "chat_exec=$($CTL send /up)"
            echo "chat_plain=$($CTL send hello)"
            release_turn || exit 5
            wait_for ActiveState inactive || exit 4
            wait
            echo "turn=$(cat turn.out)"
            echo "result=$(show Result) status=$(show ExecMainStatus)"
            journalctl --sync
            echo "journal_quick=$(journalctl -o cat --no-pager GATEWAY_QUICK_COMMAND=up | wc -l)"
            echo "ctl_logs=$($CTL logs --unit "$UNIT" -n 50 --quick up --json | grep -c '"GATEWAY_QUICK_COMMAND":"up"')"
            echo "journal_exit=$(journalctl -o json --no-pager GATEWAY_QUICK_COMMAND=up GATEWAY_EVENT=quick_command | grep -c '"GATEWAY_EXIT_STATUS":"0"')"
            echo "message_ids=$(journalctl -o cat --no-pager MESSAGE_ID=\(GatewayMessageID.quickCommand) | wc -l),$(journalctl -o cat --no-pager MESSAGE_ID=\(GatewayMessageID.draining) | wc -l),$(journalctl -o cat --no-pager MESSAGE_ID=\(GatewayMessageID.stopped) | wc -l)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["active_state"] == "deactivating")
        #expect(result["status_text"]?.hasPrefix("Draining (stop): 1 turn") == true)
        #expect(result["quick_run"] == "up and running rc=0")
        #expect(result["chat_exec"] == "up and running")
        #expect(result["chat_plain"] == "⏳ Gateway is shutting down and is not accepting new work right now.")
        #expect(result["turn"] == "turn done", "the in-flight turn finished inside the drain")
        #expect(result["result"] == "success status=0")
        #expect(result["journal_quick"] == "2", "one record per quick command run (the start is logged at debug)")
        #expect(result["journal_exit"] == "2")
        #expect(result["ctl_logs"] == "2", "gatewayctl logs --quick filters on GATEWAY_QUICK_COMMAND")
        #expect(result["message_ids"] == "2,1,1", "stable MESSAGE_IDs on the key records")
    }

    @Test("a restart request drains, exits 75, and systemd starts gatewayd again")
    func restart() throws {
        let scenario = Scenario(config: Self.config())
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT" || exit 1
            first=$(show MainPID)
            $CTL restart > /dev/null || exit 2
            wait_restarted "$first"
            echo "restarts=$(show NRestarts)"
            echo "changed=$([ "$(show MainPID)" != "$first" ] && echo yes)"
            echo "state=$($CTL --json status | grep -o '"state":"[a-z]*"')"
            journalctl --sync
            echo "exit75=$(journalctl -o cat --no-pager GATEWAY_EVENT=stopped GATEWAY_REASON=restart | wc -l)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["restarts"] == "1")
        #expect(result["changed"] == "yes")
        #expect(result["state"] == #""state":"running""#)
        #expect(result["exit75"] == "1")
    }

    @Test("reload round trip; a bad file is refused and the old configuration stays")
    func reload() throws {
        let scenario = Scenario(config: Self.config())
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT" || exit 1
            printf 'quick_commands:\\n  up: {type: exec, command: "echo reloaded"}\\n' > "$CONFIG"
            systemctl --user reload "$UNIT" || exit 2
            wait_for ActiveState active
            echo "after_good=$($CTL quick run up)"
            printf 'quick_commands:\\n  up: {type: exec, command: "echo x", timeout: soon}\\n' > "$CONFIG"
            systemctl --user reload "$UNIT"
            wait_for ActiveState active
            echo "after_bad=$($CTL quick run up)"
            echo "ctl_reload=$($CTL reload 2>&1)"
            $CTL reload 2>/dev/null; echo "ctl_rc=$?"
            echo "state=$(show ActiveState)"
            journalctl --sync
            echo "refused=$(journalctl -o cat --no-pager GATEWAY_EVENT=reload_failed | wc -l)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["after_good"] == "reloaded")
        #expect(result["after_bad"] == "reloaded")
        #expect(result["ctl_reload"]?.contains("quick_commands.up.timeout") == true)
        #expect(result["ctl_rc"] == "1")
        #expect(result["state"] == "active")
        #expect(result["refused"] == "3", "SIGHUP once, gatewayctl reload twice")
    }

    @Test("socket activation: the first gatewayctl call starts gatewayd, which serves on the passed socket")
    func socketActivation() throws {
        var scenario = Scenario(config: Self.config())
        scenario.socketActivated = true
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start gatewayd-test.socket || exit 1
            echo "before=$(show ActiveState)"
            echo "status=$($CTL --json status | grep -o '"state":"[a-z]*"')"
            echo "after=$(show ActiveState)"
            echo "quick=$($CTL quick run up)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["before"] == "inactive")
        #expect(result["status"] == #""state":"running""#)
        #expect(result["after"] == "active")
        #expect(result["quick"] == "up and running")
    }

    @Test("a wedged dispatcher stops the watchdog pings and systemd restarts gatewayd")
    func watchdog() throws {
        var scenario = Scenario(config: Self.config())
        scenario.serviceExtra = "WatchdogSec=1"
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT" || exit 1
            first=$(show MainPID)
            echo "alive=$($CTL quick run up)"
            kill -USR2 "$first"
            wait_restarted "$first"
            echo "restarts=$(show NRestarts)"
            journalctl --sync
            echo "watchdog=$(journalctl -o cat --no-pager | grep -c 'Watchdog timeout')"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["alive"] == "up and running")
        #expect(result["restarts"] == "1")
        #expect(result["watchdog"] != "0", "systemd logged the watchdog timeout")
    }

    @Test("an invalid configuration at start exits 78 and is not restarted")
    func invalidConfig() throws {
        let scenario = Scenario(config: "drain: {timeout: soon}\n")
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT"
            echo "status=$(show ExecMainStatus) restarts=$(show NRestarts) state=$(show ActiveState)"
            wait_record drain.timeout GATEWAY_EVENT=config_invalid || exit 2
            echo "logged=$(journalctl -o cat --no-pager GATEWAY_EVENT=config_invalid | grep -c 'drain.timeout')"
            """)
        let result = fields(output.standardOutput)
        #expect(result["status"] == "78 restarts=0 state=failed")
        #expect(result["logged"] == "1")
    }

    @Test("systemctl stop while gatewayd is still starting: the stop is a drain and exit 0, not a kill")
    func stopWhileStarting() throws {
        // An IRC server that accepts and never speaks: gatewayd waits (5 s at most) for it to
        // register before READY=1. Its accept says gatewayd is well into its start.
        let port = freeLoopbackPort()
        let scenario = Scenario(config: Self.config() + """

            platforms:
              irc: {server: "127.0.0.1:\(port)", nick: gatewayd}
            """)
        defer { scenario.remove() }
        let output = try scenario.run("""
            python3 -c 'import socket, sys, time
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
            print("listening", flush=True); c, _ = s.accept(); print("accepted", flush=True); time.sleep(60)' \(port) > ircd.out &
            ircd=$!
            for _ in $(seq 250); do grep -q listening ircd.out && break; sleep 0.02; done
            systemctl --user start --no-block "$UNIT"
            for _ in $(seq 500); do grep -q accepted ircd.out && break; sleep 0.02; done
            echo "state=$(show ActiveState)"
            systemctl --user stop "$UNIT"
            echo "result=$(show Result) status=$(show ExecMainStatus)"
            kill $ircd
            journalctl --sync
            echo "drained=$(journalctl -o cat --no-pager GATEWAY_EVENT=stopped | wc -l)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["state"] == "activating")
        #expect(result["result"] == "success status=0", "exit 0, not death by SIGTERM")
        #expect(result["drained"] == "1", "the SIGTERM was taken as a stop: a drain, its record, exit 0")
    }

    @Test("a TimeoutStopSec shorter than the drain does not kill a drain that is moving")
    func extendTimeout() throws {
        var scenario = Scenario(config: Self.config())
        scenario.serviceExtra = "TimeoutStopSec=1"
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT" || exit 1
            $CTL send "long task" > turn.out &
            wait_event '"turns_in_flight":1' || exit 2
            systemctl --user stop "$UNIT"
            wait
            echo "turn=$(cat turn.out)"
            echo "result=$(show Result) status=$(show ExecMainStatus)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["turn"] == "turn done", "the 2 s turn outlived the 1 s stop timeout")
        #expect(result["result"] == "success status=0")
    }

    @Test("a second SIGTERM during a drain interrupts the turns at once and tells their chats")
    func secondTerm() throws {
        let scenario = Scenario(config: """
            agent:
              backend: command
              command: ["/bin/sh", "-c", "read -r line; sleep 60; echo too late"]
            drain: {timeout: 60}
            """)
        defer { scenario.remove() }
        let output = try scenario.run("""
            systemctl --user start "$UNIT" || exit 1
            $CTL send "long task" > turn.out &
            wait_event '"turns_in_flight":1' || exit 2
            systemctl --user stop --no-block "$UNIT"
            wait_event '"state":"draining"' || exit 3
            # The second TERM goes to gatewayd only (as a second `systemctl stop` would): sent to
            # the whole unit it would also kill the agent, racing the daemon's own interrupt.
            systemctl --user kill --kill-whom=main --signal=SIGTERM "$UNIT"
            wait_for ActiveState inactive || exit 4
            wait
            echo "turn=$(cat turn.out)"
            echo "result=$(show Result) status=$(show ExecMainStatus)"
            """)
        #expect(output.status == 0, "\(output.standardError)")
        let result = fields(output.standardOutput)
        #expect(result["turn"] == "⚠️ Gateway shutting down — Your current task will be interrupted.")
        #expect(result["result"] == "success status=0")
    }
}
