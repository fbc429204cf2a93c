import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

/// The built gatewayd refusing configurations: `--check-config` and a real start run the same
/// check, so each case is tried both ways and must give 78 and the same reason.
@Suite("gatewayd --check-config and start agree", .timeLimit(.minutes(2)), .ownThread)
struct ConfigCheckTests {
    /// `--check-config` and a start (temporary socket, logs to the console) on `config`, or on a
    /// path with no file when `config` is nil; timeout(1) ends a start that wrongly kept running.
    static func checkAndStart(_ config: String?) throws -> (check: ProcessOutput, start: ProcessOutput) {
        let directory = makeTemporaryDirectory("gatewayd-config-check")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/gatewayd.yaml"
        if let config {
            try (config + "\nstate_dir: \(directory)/state\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        let gatewayd = TestPaths.product("gatewayd")
        let check = try run([gatewayd, "--check-config", "--config", path])
        let start = try run(["/usr/bin/timeout", "20", gatewayd, "--config", path, "--socket", directory + "/control.sock",
                             "--log-target", "console"])
        return (check, start)
    }

    /// Both exited 78 and both said `expected`.
    static func expectRefused(_ config: String?, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (check, start) = try checkAndStart(config)
        #expect(check.status == 78, "check: \(check.standardOutput)", sourceLocation: sourceLocation)
        #expect(check.standardOutput.contains(expected), "check said: \(check.standardOutput)", sourceLocation: sourceLocation)
        #expect(start.status == 78, "start: \(start.standardError)", sourceLocation: sourceLocation)
        #expect(start.standardError.contains(expected), "start said: \(start.standardError)", sourceLocation: sourceLocation)
    }

    @Test("durations that are infinite, NaN, negative, zero, 1e300 or past 30 days: 78, naming key path, line and range",
          arguments: ["inf", "nan", "-5", "0", "1e300", "31d", "\"2^64\"", "0.0001"])
    func durations(_ value: String) throws {
        for key in ["drain:\n  timeout", "agent:\n  turn_timeout", "exec:\n  default_timeout"] {
            let path = key.replacingOccurrences(of: ":\n  ", with: ".")
            try Self.expectRefused("# edge value\n\(key): \(value)\n", "\(path): ")
            let (check, _) = try Self.checkAndStart("# edge value\n\(key): \(value)\n")
            #expect(check.standardOutput.contains("between 1ms and 30d"), "\(check.standardOutput)")
            #expect(check.standardOutput.contains("(line 3)"), "\(check.standardOutput)")
        }
        try Self.expectRefused("quick_commands:\n  up: {type: exec, command: uptime, timeout: \(value)}\n",
                               "quick_commands.up.timeout: ")
        try Self.expectRefused("platforms:\n  webhook: {listen: \"127.0.0.1:0\", secret_file: /dev/null, replay_window: \(value)}\n",
                               "platforms.webhook.replay_window: ")
    }

    @Test("IRC reconnect waits: each 1ms..30d, reconnect_min not above reconnect_max (given or default); 78 naming key path and line",
          arguments: [
            ("reconnect_min: 9000000000000000\n    reconnect_max: 1",
             #"platforms.irc.reconnect_min: duration out of range: must be between 1ms and 30d, got "9000000000000000" (line 6)"#),
            ("reconnect_min: 1\n    reconnect_max: inf", "platforms.irc.reconnect_max: expected a duration (seconds, or \"30s\", \"10m\", \"1h\") between 1ms and 30d, got \"inf\" (line 7)"),
            ("reconnect_min: 0\n    reconnect_max: 1", #"platforms.irc.reconnect_min: duration out of range: must be between 1ms and 30d, got "0" (line 6)"#),
            ("reconnect_min: 1\n    reconnect_max: 31d", #"platforms.irc.reconnect_max: duration out of range: must be between 1ms and 30d, got "31d" (line 7)"#),
            ("reconnect_min: 2m\n    reconnect_max: 1s", "platforms.irc.reconnect_min: reconnect_min (2m) is above reconnect_max (1s) (line 6)"),
            ("reconnect_max: 100ms", "platforms.irc.reconnect_max: reconnect_min (1s) is above reconnect_max (100ms); reconnect_min is the default (line 6)"),
          ])
    func ircReconnect(_ keys: String, _ expected: String) throws {
        try Self.expectRefused("# edge value\nplatforms:\n  irc:\n    server: \"127.0.0.1:1\"\n    nick: gw\n    \(keys)\n", expected)
    }

    @Test("counts of 0, negative, 2^64 or past their range: 78, naming key path, line and range",
          arguments: [("max_concurrent", "0"), ("max_concurrent", "-1"), ("max_concurrent", "18446744073709551616"),
                      ("max_concurrent", "1025"), ("max_output", "0"), ("max_output", "-1"),
                      ("max_output", "18446744073709551616"), ("max_output", "67108865"), ("max_output", "1e3")])
    func integers(_ key: String, _ value: String) throws {
        try Self.expectRefused("exec:\n  \(key): \(value)\n", "exec.\(key): expected a whole number from 1 to ")
        let (check, _) = try Self.checkAndStart("exec:\n  \(key): \(value)\n")
        #expect(check.standardOutput.contains("(line 2)"), "\(check.standardOutput)")
    }

    @Test("a typo in every section: all of them reported in one run, each with key path and line; a start refuses the same file")
    func typosEverywhere() throws {
        let (check, start) = try Self.checkAndStart("""
            control: {sockt: /run/x}
            drain: {timout: 5s}
            agent: {backnd: echo}
            exec: {max_concurent: 2}
            quick_commands:
              up: {type: exec, comand: uptime}
            access: {admns: ["local:*"]}
            platforms:
              irc:
                server: "127.0.0.1:1"
                nick: gw
                chanels: ["#ops"]
                flood_burst: ten
              webhook: {listen: "127.0.0.1:1", secret_fil: /x}
            sesions: {max: 1}
            """)
        let expected = [
            "control.sockt: unknown key (line 1)", "drain.timout: unknown key (line 2)", "agent.backnd: unknown key (line 3)",
            "exec.max_concurent: unknown key (line 4)", "quick_commands.up.comand: unknown key (line 6)",
            "access.admns: unknown key (line 7)", "platforms.irc.chanels: unknown key (line 12)",
            #"platforms.irc.flood_burst: expected a whole number from 1 to 1000, got "ten" (line 13)"#,
            "platforms.webhook.secret_fil: unknown key (line 14)", "sesions: unknown key (line 15)",
        ]
        #expect(check.status == 78)
        for line in expected {
            #expect(check.standardOutput.contains(line), "\(line) in: \(check.standardOutput)")
            #expect(start.standardError.contains(line), "\(line) in: \(start.standardError)")
        }
        #expect(start.status == 78)
    }

    @Test("a file named with --config that does not exist: 78 both ways, not the built-in defaults")
    func missingExplicitFile() throws {
        try Self.expectRefused(nil, "no such file")
    }

    @Test("an unsupported quick-command type: 78 both ways, with the reference wording")
    func unsupportedType() throws {
        try Self.expectRefused("quick_commands:\n  up: {type: exce, command: uptime}\n",
                               "Quick command '/up' has unsupported type (supported: 'exec', 'alias').")
    }

    @Test("an admin group that does not exist: 78 both ways, naming the group")
    func missingAdminGroup() throws {
        try Self.expectRefused("control:\n  admin_group: gatewayd-no-such-group\n",
                               #"control.admin_group: no such group "gatewayd-no-such-group" on this system (line 2)"#)
    }

    @Test("a billion-laughs file: refused at its first alias, at once")
    func billionLaughs() throws {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        try Self.expectRefused(text + "platforms: {webhook: {listen: *a9}}\n", "alias *a0 not supported")
    }

    @Test("a valid file passes the check; with no --config and no default file, the built-in defaults",
          .enabled(if: access("/etc/gatewayd/gatewayd.yaml", F_OK) != 0, "this host has a default config file"))
    func validAndDefaults() throws {
        let directory = makeTemporaryDirectory("gatewayd-config-check")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/gatewayd.yaml"
        try "drain: {timeout: 30d}\nexec: {max_concurrent: 1024, max_output: 67108864, default_timeout: 1ms}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = try run([TestPaths.product("gatewayd"), "--check-config", "--config", path])
        #expect(check.status == 0, "\(check.standardOutput)")
        #expect(check.standardOutput.hasPrefix("\(path): OK (revision ") && check.standardOutput.hasSuffix(")\n"), "\(check.standardOutput)")
        let defaults = try run([TestPaths.product("gatewayd"), "--check-config"])
        #expect(defaults.status == 0, "\(defaults.standardOutput)")
        #expect(defaults.standardOutput.contains("(no file: built-in defaults)"))
    }

    @Test("webhook senders among the admins: valid, with a warning that children can sign as them")
    func webhookAdminsWarned() throws {
        let directory = makeTemporaryDirectory("gatewayd-config-check")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/gatewayd.yaml", secret = directory + "/secret"
        try "s3cret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        func check(_ admins: String) throws -> ProcessOutput {
            try """
                access: {admins: [\(admins)]}
                platforms: {webhook: {listen: "127.0.0.1:0", secret_file: \(secret)}}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            return try run([TestPaths.product("gatewayd"), "--check-config", "--config", path])
        }
        let warned = try check(#""webhook:ci""#)
        #expect(warned.status == 0)
        #expect(warned.standardOutput.contains("warning: access.admins: \(GatewayText.webhookAdminsReadableSecret)"), "\(warned.standardOutput)")
        let quiet = try check(#""local:*""#)
        #expect(quiet.standardOutput.hasPrefix("\(path): OK (revision "), "\(quiet.standardOutput)")
    }
}
