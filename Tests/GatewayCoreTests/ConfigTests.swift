import Foundation
@testable import GatewayCore
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
        #expect(config.platforms.names == ["local"])
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
            #"quick_commands.disk.timeout: expected a duration (seconds, or "30s", "10m", "1h") between 1ms and 30d, got "soon" (line 6)"#,
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

    /// A key is the file's text: written raw, `"\e[2J\r\nfake: line"` cleared the operator's
    /// terminal and printed a line of its own under `--check-config` and `gatewayctl reload --check`.
    @Test("control characters in a key or a value a problem names are written out, one line per problem")
    func controlCharactersInProblems() {
        let outcome = ConfigLoader.parse(#"""
            drain: {"\e[31mred\r\nfake: line": 1}
            state_dir: "/tmp/\e]0;title\u0007"
            agent: {backend: "\u009b2J"}
            """#)
        let printed = outcome.problems.map(\.description)
        #expect(printed.first == #"drain.\u{1B}[31mred\u{D}\u{A}fake: line: unknown key (line 1)"#, "\(printed)")
        #expect(!printed.isEmpty)
        for line in printed {
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }, "\(line.debugDescription)")
        }
    }

    @Test("a quick command without its command or target is a warning and keeps the reference's reply; an unknown type is an error")
    func brokenQuickCommands() {
        let outcome = ConfigLoader.parse("""
            quick_commands:
              empty: {type: exec, command: ""}
              nowhere: {type: alias}
              weird: {type: shell, command: ls}
              typo: {type: exce, command: ls}
            """)
        #expect(outcome.errors.map(\.description) == [
            #"quick_commands.weird: Quick command '/weird' has unsupported type (supported: 'exec', 'alias'). Got "shell". (line 4)"#,
            #"quick_commands.typo: Quick command '/typo' has unsupported type (supported: 'exec', 'alias'). Got "exce". (line 5)"#,
        ])
        #expect(outcome.warnings.map(\.path) == ["quick_commands.empty", "quick_commands.nowhere"])
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
        for bad in ["soon", "", "-5", "10 parsecs", "m10", "5x", "inf", "-inf", "nan", "infinity", "1e300", "1e300s", "٣s", "5s-1s"] {
            #expect(DurationValue.parse(bad) == nil, "\(bad)")
        }
        #expect(DurationValue.microseconds(.seconds(Int64.max)) == .max, "saturates instead of trapping")
        #expect(DurationValue.microseconds(.seconds(Int64.min)) == .min)
        #expect(DurationValue.describe(.seconds(30 * 86_400)) == "30d")
        #expect(DurationValue.describe(.milliseconds(1500)) == "1500ms")
    }

    @Test("every duration and count outside its range is an error with key path, line and range",
          arguments: ["inf", "nan", "-5", "0", "1e300", "31d", "0.0001", "\"2^64\""])
    func durationRanges(_ value: String) {
        let outcome = ConfigLoader.parse("""
            drain: {timeout: \(value)}
            agent: {turn_timeout: \(value)}
            exec: {default_timeout: \(value)}
            quick_commands: {up: {type: exec, command: uptime, timeout: \(value)}}
            """)
        #expect(outcome.errors.map { "\($0.path) \($0.line ?? 0)" } == [
            "drain.timeout 1", "agent.turn_timeout 2", "exec.default_timeout 3", "quick_commands.up.timeout 4",
        ])
        #expect(outcome.errors.allSatisfy { $0.message.contains("between 1ms and 30d") }, "\(outcome.errors)")
    }

    @Test("counts: 0, negative, 2^64 and past the range are refused with the range",
          arguments: ["0", "-1", "18446744073709551616", "-9223372036854775808", "1e3", "0x10000000000000000", "100000"])
    func countRanges(_ value: String) {
        let outcome = ConfigLoader.parse("""
            exec: {max_concurrent: \(value), max_output: \(value == "100000" ? "67108865" : value)}
            """)
        #expect(outcome.errors.map(\.description) == [
            "exec.max_concurrent: expected a whole number from 1 to 1024, got \(value.debugDescription) (line 1)",
            "exec.max_output: expected a whole number from 1 to 67108864, got \((value == "100000" ? "67108865" : value).debugDescription) (line 1)",
        ])
    }

    @Test("the limits themselves are accepted")
    func rangeBounds() {
        let outcome = ConfigLoader.parse("""
            drain: {timeout: 30d}
            exec: {max_concurrent: 1024, max_output: 67108864}
            quick_commands: {up: {type: exec, command: uptime, timeout: 1ms}}
            """)
        #expect(outcome.problems.isEmpty, "\(outcome.problems)")
        #expect(outcome.config.drain.timeout == .seconds(30 * 86_400))
        #expect(outcome.config.quickCommands["up"]?.timeout == .milliseconds(1))
    }

    @Test("a platform this build does not know is an unknown key; so is any without a reader given to parse")
    func unknownPlatform() {
        let outcome = ConfigLoader.parse("platforms:\n  local: {enabled: false}\n  ircc: {server: x}\n")
        #expect(outcome.errors.map(\.description) == ["platforms.ircc: unknown key (line 3)"])
        #expect(!outcome.config.platforms.localEnabled)
    }

    @Test("control.admin_group must name a group of the system (load asks it; parse is told)")
    func adminGroup() {
        let outcome = ConfigLoader.parse("control:\n  admin_group: nosuch\n", groupExists: { $0 == "root" })
        #expect(outcome.errors.map(\.description) == [#"control.admin_group: no such group "nosuch" on this system (line 2)"#])
        #expect(ConfigLoader.parse("control: {admin_group: root}", groupExists: { $0 == "root" }).errors.isEmpty)
        #expect(ConfigLoader.systemGroupExists("root"))
        #expect(!ConfigLoader.systemGroupExists("gatewayd-no-such-group"))
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
