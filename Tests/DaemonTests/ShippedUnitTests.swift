import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

/// The README's "Deploy with systemd", step by step, with the files this repository ships: what
/// `contrib/install.sh` installs, the sysusers and tmpfiles entries, the example configuration,
/// the unit files unchanged. It runs in `systemd-sandbox host` (a stand-in for a booted host:
/// /etc, /usr/local and /var/lib overlaid, a private /run, a manager with the system manager's
/// directories). Every line that differs from what an operator types on a host is marked
/// `sandbox:` with the reason.
@Suite("The shipped units, installed as the README says", .timeLimit(.minutes(3)), .ownThread,
       .enabled(if: Sandbox.isAvailable, "\(Sandbox.unavailableReason ?? "")"))
struct ShippedUnitTests {
    /// Installs everything, then runs `script` as root in the sandbox. `$CTL` is the installed
    /// gatewayctl; `state UNIT` prints the properties the checks read.
    func installedHost(_ script: String) throws -> ProcessOutput {
        let prelude = """
            set -u
            exec 2>&1
            cd "$(mktemp -d)"   # scratch files of the script, never the checkout
            fail() { echo "FAILED: $*"; journalctl --no-pager -o short-monotonic -n 60 | grep -v ' kernel: '; exit 1; }
            # The README's steps.
            /bin/sh \(TestPaths.packageRoot)/contrib/install.sh --from \(TestPaths.buildProducts) > /dev/null || fail install.sh
            # sandbox: only gatewayd's own entries; the host's others would touch paths the sandbox
            # does not overlay (/var/log, /var/cache, /tmp).
            systemd-sysusers /usr/local/lib/sysusers.d/gatewayd.conf || fail sysusers
            systemd-tmpfiles --create /usr/local/lib/tmpfiles.d/gatewayd.conf || fail tmpfiles
            install -m 0640 -g gatewayd /usr/local/share/doc/gatewayd/gatewayd.yaml.example /etc/gatewayd/gatewayd.yaml || fail config
            journalctl --update-catalog || fail catalog
            # sandbox: a user manager finds units by link, not in /usr/local/lib/systemd/system.
            for unit in /usr/local/lib/systemd/system/gatewayd*; do systemctl --user link "$unit" > /dev/null || fail "link $unit"; done
            systemctl --user daemon-reload
            CTL=/usr/local/bin/gatewayctl
            show() { systemctl --user show -p "$2" --value "$1"; }
            state() { systemctl --user show -p ActiveState,Result,NRestarts,ExecMainStatus "$1" | sort | tr '\\n' ' '; }
            # Bounded waits for a unit's property: systemd offers no event to await from a shell.
            wait_for() { for _ in $(seq 500); do [ "$(show "$1" "$2")" = "$3" ] && return 0; sleep 0.02; done; fail "$1: $2 is $(show "$1" "$2"), not $3"; }
            wait_restarted() {
              for _ in $(seq 500); do
                pid=$(show "$1" MainPID)
                [ "$pid" != "$2" ] && [ "$pid" != 0 ] && [ "$(show "$1" ActiveState)" = active ] && return 0
                sleep 0.02
              done
              fail "$1 not restarted (MainPID $(show "$1" MainPID))"
            }

            """
        return try run([TestPaths.sandboxScript, "host", "/bin/bash", "-c", prelude + script],
                       environment: environment(with: [:]))
    }

    @Test("gatewayd.socket + gatewayd.service: start, quick run, reload, restart, exit 75, stop, activation again")
    func mainUnit() throws {
        let output = try installedHost("""
            systemctl --user enable --now gatewayd.socket gatewayd.service > /dev/null 2>&1 || fail "enable --now"
            echo "started=$(state gatewayd.service)"
            echo "status_text=$(show gatewayd.service StatusText)"
            echo "status=$($CTL status | head -1)"
            echo "store=$($CTL --json status | grep -o '"store_problem":[^,}]*' || echo none)"
            echo "db=$(stat -c %U /var/lib/gatewayd/state.db)"
            echo "quick=$($CTL quick run uptime | grep -c 'load average') rc=$?"
            first=$(show gatewayd.service MainPID)
            # An edit of the shipped file, previewed, then applied by `systemctl reload`.
            sed -i 's/^quick_commands:.*/&\\n  hello: {type: exec, command: "echo hello"}/' /etc/gatewayd/gatewayd.yaml
            $CTL reload --check > check.out; echo "check_rc=$? check=$(grep -c 'quick_commands .*added hello' check.out)"
            systemctl --user reload gatewayd.service || fail reload
            wait_for gatewayd.service ActiveState active
            echo "reloaded=$(state gatewayd.service) same_pid=$([ "$(show gatewayd.service MainPID)" = "$first" ] && echo yes)"
            echo "hello=$($CTL quick run hello)"
            revision=$(/usr/local/bin/gatewayd --check-config --config /etc/gatewayd/gatewayd.yaml | sed -n 's/.*(revision \\([0-9a-f]*\\)).*/\\1/p')
            echo "revision_length=${#revision}"
            journalctl --sync
            echo "journal_revision=$(journalctl --no-pager -o export MESSAGE_ID=\(GatewayMessageID.reloaded) | grep -c "^GATEWAY_CONFIG_REVISION=$revision")"
            echo "catalog=$(journalctl --no-pager -x MESSAGE_ID=\(GatewayMessageID.reloaded) | grep -c 'Preview a change with')"
            echo "status_revision=$($CTL status | grep -c "Config: revision $revision, applied")"
            systemctl --user restart gatewayd.service || fail restart
            echo "restarted=$(state gatewayd.service)"
            echo "after_restart=$($CTL status | head -1)"
            second=$(show gatewayd.service MainPID)
            $CTL restart > /dev/null || fail "gatewayctl restart"
            wait_restarted gatewayd.service "$second"
            echo "requested=$(state gatewayd.service)"
            echo "after_requested=$($CTL status | head -1)"
            systemctl --user stop gatewayd.service || fail stop
            echo "stopped=$(state gatewayd.service) socket=$(show gatewayd.socket ActiveState)"
            # The socket stays: the next call starts gatewayd again.
            echo "activated=$($CTL status | head -1)"
            wait_for gatewayd.service ActiveState active
            journalctl --sync
            echo "sigsys=$(journalctl --no-pager -o cat | grep -c 'status=31/SYS')"
            """)
        let result = fields(output.standardOutput)
        #expect(output.status == 0, "\(output.standardOutput)")
        #expect(result["started"] == "ActiveState=active ExecMainStatus=0 NRestarts=0 Result=success ", "\(output.standardOutput)")
        #expect(result["status_text"] == "Running: 1 platform, 0 turns, 0 exec")
        #expect(result["status"]?.hasPrefix("● gatewayd — running") == true, "\(result["status"] ?? "")")
        #expect(result["store"] == "none", "the durable queue opened in StateDirectory=")
        #expect(result["db"] == "gatewayd")
        #expect(result["quick"] == "1 rc=0")
        #expect(result["reloaded"] == "ActiveState=active ExecMainStatus=0 NRestarts=0 Result=success  same_pid=yes")
        #expect(result["check_rc"] == "0 check=1", "reload --check named the added command, all live: \(output.standardOutput)")
        #expect(result["hello"] == "hello", "applied by systemctl reload")
        #expect(result["revision_length"] == "16", "gatewayd --check-config printed the file's revision")
        #expect(result["journal_revision"] == "1", "one reload record, with the file's revision")
        #expect(result["catalog"] == "1", "the catalog explains the record")
        #expect(result["status_revision"] == "1")
        #expect(result["restarted"] == "ActiveState=active ExecMainStatus=0 NRestarts=0 Result=success ")
        #expect(result["after_restart"]?.hasPrefix("● gatewayd — running") == true,
                "the socket survived the restart: \(result["after_restart"] ?? "")")
        #expect(result["requested"] == "ActiveState=active ExecMainStatus=0 NRestarts=1 Result=success ")
        #expect(result["after_requested"]?.hasPrefix("● gatewayd — running") == true)
        #expect(result["stopped"] == "ActiveState=inactive ExecMainStatus=0 NRestarts=1 Result=success  socket=active")
        #expect(result["activated"]?.hasPrefix("● gatewayd — running") == true)
        #expect(result["sigsys"] == "0")
    }

    @Test("gatewayd@NAME with the example config: its own socket, state and group; children cannot steer it")
    func instance() throws {
        let output = try installedHost("""
            # The example config, plus two quick commands that try to steer the gateway from inside
            # (a prompt-injected agent could run either): one directly, one double-forked out of
            # gatewayd's process tree and its process group (the command waits until it is out:
            # whatever is still in the group when the command ends is ended with it).
            cp /etc/gatewayd/gatewayd.yaml /etc/gatewayd/ops.yaml
            cat >> /etc/gatewayd/ops.yaml <<'EOF'
            quick_commands:
              uptime: {type: exec, command: "uptime"}
              steer: {type: exec, command: "/usr/local/bin/gatewayctl --socket /run/gatewayd-ops/control drain --no-wait; echo rc=$?"}
              escape: {type: exec, command: "(setsid sh -c ': > \\"$STATE/escaped\\"; /usr/local/bin/gatewayctl --socket /run/gatewayd-ops/control drain --no-wait > \\"$STATE/escape.out\\" 2>&1; echo rc=$? >> \\"$STATE/escape.out\\"' &); until [ -e \\"$STATE/escaped\\" ]; do sleep 0.01; done"}
            EOF
            sed -i "s|\\$STATE|/var/lib/gatewayd-ops|g" /etc/gatewayd/ops.yaml
            # The example's own quick_commands block comes first in the file: drop it, keep ours.
            python3 - <<'EOF'
            import re
            p = "/etc/gatewayd/ops.yaml"
            text = open(p).read()
            first = text.index("quick_commands:")
            end = text.index("access:", first)
            open(p, "w").write(text[:first] + text[end:])
            EOF
            chgrp gatewayd /etc/gatewayd/ops.yaml && chmod 0640 /etc/gatewayd/ops.yaml
            /usr/local/bin/gatewayd --check-config --config /etc/gatewayd/ops.yaml > /dev/null || fail "check-config: $(/usr/local/bin/gatewayd --check-config --config /etc/gatewayd/ops.yaml)"
            # As the unit's header says; the service alone would pull in its socket (Requires=).
            systemctl --user enable --now gatewayd@ops.socket gatewayd@ops.service > /dev/null 2>&1 || fail "enable --now gatewayd@ops"
            OPS="$CTL --socket /run/gatewayd-ops/control"
            echo "started=$(state gatewayd@ops.service)"
            echo "socket=$(stat -c '%U:%G %a' /run/gatewayd-ops/control)"
            echo "store=$($OPS --json status | grep -o '"store_problem":[^,}]*' || echo none)"
            echo "db=$(stat -c %U /var/lib/gatewayd-ops/state.db)"
            echo "quick=$($OPS quick run uptime | grep -c 'load average')"
            echo "steer=$($OPS quick run steer | tr '\\n' ' ')"
            $OPS quick run escape > /dev/null
            for _ in $(seq 250); do grep -q '^rc=' /var/lib/gatewayd-ops/escape.out 2>/dev/null && break; sleep 0.02; done
            echo "escape=$(tr '\\n' ' ' < /var/lib/gatewayd-ops/escape.out)"
            echo "state_after=$($OPS --json status | grep -o '"state":"[a-z]*"')"
            first=$(show gatewayd@ops.service MainPID)
            $OPS restart > /dev/null || fail "gatewayctl restart"
            wait_restarted gatewayd@ops.service "$first"
            echo "requested=$(state gatewayd@ops.service)"
            systemctl --user stop gatewayd@ops.service || fail stop
            echo "stopped=$(state gatewayd@ops.service)"
            # The service alone, its socket stopped too: Requires= brings the socket back.
            systemctl --user stop gatewayd@ops.socket
            systemctl --user start gatewayd@ops.service || fail "gatewayd@ops.service alone"
            echo "alone=$($OPS status | head -1)"
            journalctl --sync
            echo "sigsys=$(journalctl --no-pager -o cat | grep -c 'status=31/SYS')"
            """)
        let result = fields(output.standardOutput)
        #expect(output.status == 0, "\(output.standardOutput)")
        #expect(result["started"] == "ActiveState=active ExecMainStatus=0 NRestarts=0 Result=success ", "\(output.standardOutput)")
        #expect(result["socket"] == "gatewayd:gatewayd-admin 660", "SocketGroup= gives it to admin_group")
        #expect(result["store"] == "none", "the instance's durable queue is in its own StateDirectory=")
        #expect(result["db"] == "gatewayd")
        #expect(result["quick"] == "1")
        #expect(result["steer"]?.contains("rc=4") == true, "a quick command may not drain the gateway: \(result["steer"] ?? "")")
        #expect(result["escape"]?.contains("rc=4") == true, "nor a process it double-forked: \(output.standardOutput)")
        #expect(result["state_after"] == #""state":"running""#)
        #expect(result["requested"] == "ActiveState=active ExecMainStatus=0 NRestarts=1 Result=success ")
        #expect(result["stopped"] == "ActiveState=inactive ExecMainStatus=0 NRestarts=1 Result=success ", "NRestarts counts until the next explicit start")
        #expect(result["alone"]?.hasPrefix("● gatewayd — running") == true, "\(output.standardOutput)")
        #expect(result["sigsys"] == "0")
    }

    @Test("a second unit on the first one's state directory: exit 78, failed without a restart, the first serves on")
    func duplicateInstance() throws {
        let output = try installedHost("""
            systemctl --user enable --now gatewayd.socket gatewayd.service > /dev/null 2>&1 || fail "enable --now"
            first=$(show gatewayd.service MainPID)
            # An instance whose file names the main unit's state directory (read-only in its
            # sandbox: ProtectSystem=strict), as a copied gatewayd.yaml with state_dir set would.
            cp /etc/gatewayd/gatewayd.yaml /etc/gatewayd/dup.yaml
            echo "state_dir: /var/lib/gatewayd" >> /etc/gatewayd/dup.yaml
            chgrp gatewayd /etc/gatewayd/dup.yaml && chmod 0640 /etc/gatewayd/dup.yaml
            systemctl --user start gatewayd@dup.socket gatewayd@dup.service 2> /dev/null && fail "the duplicate started"
            # A restart to come would show as activating/auto-restart; failed means none is scheduled.
            echo "dup=$(state gatewayd@dup.service) sub=$(show gatewayd@dup.service SubState)"
            echo "first=$(state gatewayd.service) same_pid=$([ "$(show gatewayd.service MainPID)" = "$first" ] && echo yes)"
            echo "status=$($CTL status | head -1)"
            journalctl --sync
            echo "named=$(journalctl --no-pager -o cat MESSAGE_ID=\(GatewayMessageID.instanceConflict) | grep -c "PID $first")"
            """)
        let result = fields(output.standardOutput)
        #expect(output.status == 0, "\(output.standardOutput)")
        #expect(result["dup"] == "ActiveState=failed ExecMainStatus=78 NRestarts=0 Result=exit-code  sub=failed", "\(output.standardOutput)")
        #expect(result["first"] == "ActiveState=active ExecMainStatus=0 NRestarts=0 Result=success  same_pid=yes")
        #expect(result["status"]?.hasPrefix("● gatewayd — running") == true, "\(result["status"] ?? "")")
        #expect(result["named"] == "1", "the journal names the first one's PID: \(output.standardOutput)")
    }

    @Test("a failing service: gatewayctl says so within seconds and names where to look")
    func failing() throws {
        let output = try installedHost("""
            # The file unreadable by gatewayd (an operator's chmod gone wrong): every start exits 78.
            chmod 0600 /etc/gatewayd/gatewayd.yaml
            systemctl --user start gatewayd.socket gatewayd.service 2> /dev/null && fail "it started without its config"
            start=$(date +%s%N)
            $CTL status > status.out 2>&1; echo "rc=$?"
            echo "elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))"
            echo "message=$(cat status.out)"
            """)
        let result = fields(output.standardOutput)
        #expect(output.status == 0, "\(output.standardOutput)")
        #expect(result["rc"] == "3")
        let elapsed = Int(result["elapsed_ms"] ?? "") ?? .max
        #expect(elapsed < 10_000, "not the 30 s timeout: \(elapsed) ms")
        #expect(result["message"]?.contains("gatewayd.service is failing") == true, "\(output.standardOutput)")
        #expect(result["message"]?.contains("journalctl -u gatewayd.service") == true)
    }
}
