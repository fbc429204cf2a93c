import Foundation
import GatewayTestSupport

/// gatewayd installed as a user unit under a real systemd manager and journald (in private
/// namespaces), driven by a shell script: `$CTL` is gatewayctl on the unit's socket, `$UNIT`
/// the unit's name, `$CONFIG` its configuration file.
struct Scenario {
    let directory: String
    var unit = "gatewayd-test.service"
    var config: String
    var serviceExtra = ""
    var socketActivated = false

    init(config: String) {
        directory = makeTemporaryDirectory("gatewayd-scenario")
        self.config = config
    }

    /// For a configuration that names the scenario's own paths (its directory, its `gate`).
    init(config make: (Scenario) -> String) {
        self.init(config: "")
        config = make(self)
    }

    var configPath: String { directory + "/gatewayd.yaml" }

    /// A FIFO the script opens with `release_turn`. An agent command that runs `waitAtGate` keeps
    /// its turn in flight until then: exactly as long as the script needs (a drain to look at,
    /// messages to queue behind it), where a fixed `sleep` is a guess that a loaded machine beats.
    var gate: String { directory + "/gate" }

    /// The shell step for an agent command: wait until the script calls `release_turn`.
    var waitAtGate: String { "read -r _ < \(gate)" }

    func run(_ script: String) throws -> ProcessOutput {
        let units = directory + "/units"
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        // The durable queue stays in the scenario's directory, never the host's /var/lib.
        let stateLine = config.contains("state_dir:") ? "" : "\nstate_dir: \(directory)/state\n"
        try (config + stateLine).write(toFile: configPath, atomically: true, encoding: .utf8)
        let socketOption = socketActivated ? "" : " --socket %t/gatewayd-test.sock"
        try """
            [Service]
            Type=notify
            ExecStart=\(TestPaths.product("gatewayd")) --config \(configPath)\(socketOption)
            ExecReload=/bin/kill -HUP $MAINPID
            Restart=on-failure
            RestartSec=100ms
            SuccessExitStatus=75
            RestartForceExitStatus=75
            RestartPreventExitStatus=78
            TimeoutStartSec=10
            TimeoutStopSec=30
            KillMode=mixed
            Environment=GATEWAYD_TEST_HOOKS=1
            # A watchdog abort should restart at once, not first symbolicate a debug build.
            Environment=SWIFT_BACKTRACE=enable=no
            LimitCORE=0
            \(serviceExtra)
            """.write(toFile: "\(units)/\(unit)", atomically: true, encoding: .utf8)
        if socketActivated {
            try """
                [Socket]
                ListenStream=%t/gatewayd-test.sock
                FileDescriptorName=control
                """.write(toFile: "\(units)/gatewayd-test.socket", atomically: true, encoding: .utf8)
        }
        let prelude = """
            set -u
            cd \(directory)
            UNIT=\(unit)
            CONFIG=\(configPath)
            GATE=\(gate)
            mkfifo "$GATE" || exit 90
            # Lets one turn waiting at the gate go on (bounded: a turn that never came is an error).
            release_turn() { timeout 20 sh -c 'echo go > "$1"' sh "$GATE" || { echo "no turn waited at the gate" >&2; return 1; }; }
            CTL="\(TestPaths.product("gatewayctl")) --socket $XDG_RUNTIME_DIR/gatewayd-test.sock"
            show() { systemctl --user show -p "$1" --value "$UNIT"; }
            # Waits (bounded) until the unit's property has the value: systemd offers no event to
            # await from a shell here.
            wait_for() { for _ in $(seq 500); do [ "$(show "$1")" = "$2" ] && return 0; sleep 0.02; done; echo "timeout waiting for $1=$2 (now $(show "$1"))" >&2; return 1; }
            # Waits (bounded) until the unit runs again under a main pid other than $1.
            wait_restarted() {
              for _ in $(seq 500); do
                pid=$(show MainPID)
                [ "$pid" != "$1" ] && [ "$pid" != 0 ] && [ "$(show ActiveState)" = active ] && return 0
                sleep 0.02
              done
              echo "not restarted (MainPID $(show MainPID))" >&2; return 1
            }
            # Waits for a journal record containing $1 (journalctl matches may follow), by following
            # the journal: `journalctl --sync` may return before journald has read a datagram still
            # queued on its socket (the invalid-config test saw no record after it under load).
            wait_record() {
              local pattern=$1; shift
              coproc RECORDS { exec journalctl -f -n all -o cat --no-pager "$@"; }
              local follower=$RECORDS_PID line
              while IFS= read -r -t 20 line <&"${RECORDS[0]}"; do
                case $line in *"$pattern"*) kill "$follower"; wait "$follower" 2>/dev/null; return 0;; esac
              done
              kill "$follower" 2>/dev/null; echo "no journal record matching $pattern" >&2; return 1
            }
            # Waits for a line of `gatewayctl events` containing $1 (the first line is the status),
            # then ends the follower at once.
            wait_event() {
              coproc EVENTS { exec $CTL --json events; }
              local follower=$EVENTS_PID line
              while IFS= read -r -t 20 line <&"${EVENTS[0]}"; do
                case $line in *"$1"*) kill "$follower"; wait "$follower" 2>/dev/null; return 0;; esac
              done
              kill "$follower" 2>/dev/null; echo "no event matching $1" >&2; return 1
            }

            """
        return try GatewayTestSupport.run([TestPaths.sandboxScript, "user-manager", units, "/bin/bash", "-c", prelude + script],
                       environment: environment(with: [:]))
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// `KEY=value` lines of a script's output.
func fields(_ output: String) -> [String: String] {
    var result: [String: String] = [:]
    for line in output.split(separator: "\n") {
        guard let equals = line.firstIndex(of: "=") else { continue }
        result[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    return result
}
