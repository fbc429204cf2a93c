import Foundation
import GatewayCore
import Testing

@Suite("Config")
struct ConfigTests {
    @Test("no file at all: built-in defaults (local platform, echo agent)")
    func defaultsWithoutFile() throws {
        let outcome = try ConfigLoader.load(path: "/nonexistent/gatewayd.yaml")
        var defaults = GatewayConfig()
        defaults.stateDirectory = DefaultPaths.stateDirectory()
        #expect(outcome.config == defaults)
        #expect(!outcome.config.stateDirectory.hasPrefix("/var/lib/"), "a gatewayd started by hand never takes the system's state")
        #expect(outcome.config.agent.backend == .echo)
        #expect(outcome.config.platforms.localEnabled)
        #expect(outcome.config.quickCommands.isEmpty)
        #expect(outcome.problems.isEmpty)
    }

    @Test("the design's example reads in full")
    func fullExample() throws {
        let outcome = ConfigLoader.parse("""
            control:
              socket: /run/gatewayd/control
              socket_mode: "0660"
              admin_group: gatewayd-admin
            drain:
              timeout: 60s
            busy_input_mode: queue
            agent:
              backend: command
              command: ["/usr/local/bin/my-agent", "--json"]
              turn_timeout: 10m
            exec:
              max_concurrent: 8
              default_timeout: 30s
              max_output: 65536
            quick_commands:
              uptime: {type: exec, command: "uptime"}
              disk:   {type: exec, command: 'df -h "$1"', args: pass, timeout: 10}
              st:     {type: alias, target: /status}
            access:
              allowed_users: ["irc:alice", "webhook:*"]
              admins: ["irc:~alice", "irc:alice!alice@trusted.example"]
            platforms:
              local: {enabled: true}
              irc: {server: "127.0.0.1:6697", nick: gatewayd, channels: ["#ops"], tls: true}
              webhook: {listen: "127.0.0.1:8644", secret_file: /etc/gatewayd/webhook.secret}
            state_dir: /var/lib/gatewayd
            """)
        #expect(outcome.problems.isEmpty, "\(outcome.problems)")
        let config = outcome.config
        #expect(config.control.socketMode == 0o660)
        #expect(config.control.adminGroup == "gatewayd-admin")
        #expect(config.drain.timeout == .seconds(60))
        #expect(config.busyInputMode == .queue)
        #expect(config.agent.backend == .command)
        #expect(config.agent.command == ["/usr/local/bin/my-agent", "--json"])
        #expect(config.agent.turnTimeout == .seconds(600))
        #expect(config.quickCommands["disk"] == QuickCommand(
            name: "disk", kind: .exec(command: #"df -h "$1""#), passArguments: true, timeout: .seconds(10)))
        #expect(config.quickCommands["st"]?.kind == .alias(target: "/status"))
        #expect(config.access.allowedUsers == ["irc:alice", "webhook:*"])
        #expect(config.platforms.irc?["nick"] == "gatewayd")
    }

    @Test("a bad value names its key path and line")
    func badValueLocated() {
        let outcome = ConfigLoader.parse("""
            quick_commands:
              uptime: {type: exec, command: "uptime"}
              disk:
                type: exec
                command: df -h
                timeout: soon
            """)
        #expect(outcome.errors.map(\.description) == [
            #"quick_commands.disk.timeout: expected a duration (seconds, or "30s", "10m", "1h"), got "soon" (line 6)"#,
        ])
    }

    @Test("unknown keys are errors, with path and line, all of them")
    func unknownKeys() {
        let outcome = ConfigLoader.parse("""
            drain:
              timeout: 5
              tiemout: 6
            exec:
              max_concurent: 3
            colour: blue
            """)
        #expect(outcome.errors.map(\.description) == [
            "drain.tiemout: unknown key (line 3)",
            "exec.max_concurent: unknown key (line 5)",
            "colour: unknown key (line 6)",
        ])
    }

    @Test("broken quick commands are warnings and keep the reference's replies")
    func brokenQuickCommands() {
        let outcome = ConfigLoader.parse("""
            quick_commands:
              empty: {type: exec, command: ""}
              nowhere: {type: alias}
              weird: {type: shell, command: ls}
            """)
        #expect(outcome.errors.isEmpty)
        #expect(outcome.warnings.map(\.path) == ["quick_commands.empty", "quick_commands.nowhere", "quick_commands.weird"])
        #expect(outcome.config.quickCommands["empty"]?.kind == .invalid(reply: "Quick command '/empty' has no command defined."))
        #expect(outcome.config.quickCommands["nowhere"]?.kind == .invalid(reply: "Quick command '/nowhere' has no target defined."))
        #expect(outcome.config.quickCommands["weird"]?.kind == .invalid(
            reply: "Quick command '/weird' has unsupported type (supported: 'exec', 'alias')."))
    }

    @Test("durations: seconds as a number or text with units")
    func durations() {
        #expect(DurationValue.parse("30") == .seconds(30))
        #expect(DurationValue.parse("1.5") == .milliseconds(1500))
        #expect(DurationValue.parse("30s") == .seconds(30))
        #expect(DurationValue.parse("10m") == .seconds(600))
        #expect(DurationValue.parse("1h30m") == .seconds(5400))
        #expect(DurationValue.parse("250ms") == .milliseconds(250))
        for bad in ["soon", "", "-5", "10 parsecs", "m10", "5x"] {
            #expect(DurationValue.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("invalid YAML and wrong shapes are errors, not crashes")
    func wrongShapes() {
        #expect(!ConfigLoader.parse("quick_commands: [\n").errors.isEmpty)
        #expect(ConfigLoader.parse("- a\n- b\n").errors.first?.message == "expected a mapping (key: value lines)")
        #expect(ConfigLoader.parse("exec: {max_concurrent: -1}").errors.first?.path == "exec.max_concurrent")
        #expect(ConfigLoader.parse("busy_input_mode: steer").errors.first?.description
            == #"busy_input_mode: expected one of interrupt, queue, got "steer" (line 1)"#)
        #expect(ConfigLoader.parse("agent: {backend: command}").errors.first?.path == "agent.command")
        #expect(ConfigLoader.parse("quick_commands: {Uptime: {type: exec, command: uptime}}").errors.count == 1)
    }

    @Test("load throws every error of an invalid file; a missing one is fine unless required")
    func loadErrors() throws {
        let path = NSTemporaryDirectory() + "gatewayd-config-\(UUID()).yaml"
        try "drain: {timeout: never}\nbogus: 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: path) }
        #expect(error?.problems.count == 2)
        #expect(error?.description.contains("drain.timeout") == true)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent.yaml", requireFile: true) }
    }
}

@Suite("Command parsing")
struct ParsedCommandTests {
    @Test("leading slash, lowercased, @botname stripped, args split")
    func parsing() {
        let command = ParsedCommand("/Disk@GatewayBot  /var  /tmp ")
        #expect(command?.name == "disk")
        #expect(command?.arguments == ["/var", "/tmp"])
        #expect(command?.argumentText == "/var  /tmp ")
        #expect(ParsedCommand("hello /disk") == nil)
        #expect(ParsedCommand("/usr/bin/env") == nil)
        #expect(ParsedCommand("/") == nil)
    }
}
