import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

/// The platforms' sections read by their adapters' own readers inside the loader's one run:
/// every problem with key path and line, and the warnings only the whole file shows.
@Suite("Platform settings in the config file")
struct PlatformSettingsTests {
    func parse(_ text: String) -> ConfigLoader.LoadedConfig { ConfigLoader.parse(text, platforms: PlatformCatalog.all) }

    /// A file holding a secret, for `secret_file` and `sasl_password_file`.
    func secretFile() throws -> String {
        let path = makeTemporaryDirectory("gatewayd-settings") + "/secret"
        try "s3cret\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("durations and counts of the webhook out of range: the key path, line and range")
    func webhookRanges() throws {
        let secret = try secretFile()
        for value in ["inf", "nan", "-5", "0", "1e300", "31d", "0.0001", "\"2^64\""] {
            let outcome = parse("platforms: {webhook: {listen: \"127.0.0.1:1\", secret_file: \(secret), replay_window: \(value)}}")
            #expect(outcome.errors.map { "\($0.path) \($0.line ?? 0)" } == ["platforms.webhook.replay_window 1"], "\(value)")
        }
        for value in ["0", "-1", "18446744073709551616", "1e3", "100000"] {
            let outcome = parse("platforms: {webhook: {listen: \"127.0.0.1:1\", secret_file: \(secret), max_connections: \(value)}}")
            #expect(outcome.errors.map(\.description) == [
                "platforms.webhook.max_connections: expected a whole number from 1 to 65536, got \(value.debugDescription) (line 1)"])
        }
        let bounds = parse("platforms: {webhook: {listen: \"127.0.0.1:1\", secret_file: \(secret), replay_window: 5m, require_timestamp: true, max_connections: 1}}")
        #expect(bounds.problems.isEmpty, "\(bounds.problems)")
        let webhook = try #require(bounds.config.platforms.network["webhook"] as? WebhookConfiguration)
        #expect(webhook.replayWindow == .seconds(300) && webhook.requireTimestamp && webhook.maxConnections == 1)
    }

    @Test("every problem of every platform in one run, each with its line: typos, wrong types, missing keys, unreadable files")
    func everyProblemAtOnce() {
        let outcome = parse("""
            platforms:
              irc:
                server: irc.example.net
                nick: gw
                chanels: ["#ops"]
                flood_burst: lots
                sessions_per_user: maybe
                sasl_user: gw
              webhook:
                listen: "127.0.0.1:1"
                secret_file: /nonexistent/secret
                require_timestamp: sometimes
                replay_windw: 5m
            """)
        #expect(outcome.errors.map(\.description) == [
            #"platforms.irc.server: expected host:port such as "irc.libera.chat:6667", got "irc.example.net" (line 3)"#,
            "platforms.irc.chanels: unknown key (line 5)",
            #"platforms.irc.flood_burst: expected a whole number from 1 to 1000, got "lots" (line 6)"#,
            #"platforms.irc.sessions_per_user: expected true or false, got "maybe" (line 7)"#,
            "platforms.irc.sasl_user: set sasl_password_file as well (a file holding the password) (line 8)",
            "platforms.webhook.secret_file: cannot read /nonexistent/secret: No such file or directory (line 11)",
            #"platforms.webhook.require_timestamp: expected true or false, got "sometimes" (line 12)"#,
            "platforms.webhook.replay_windw: unknown key (line 13)",
        ])
    }

    @Test("required keys missing: named with the section's line")
    func requiredKeys() {
        let outcome = parse("platforms:\n  irc: {channels: [\"#ops\"]}\n  webhook: {listen: \"127.0.0.1:1\"}\n")
        #expect(outcome.errors.map { "\($0.path) \($0.line ?? 0)" } == [
            "platforms.irc.server 2", "platforms.irc.nick 2", "platforms.webhook.secret_file 3",
        ])
    }

    @Test("IRC admins over plaintext: a warning at load; none with tls: true or with no IRC admin")
    func plaintextWarning() throws {
        let secret = try secretFile()
        let plaintext = parse("""
            access: {admins: ["irc:~alice"]}
            platforms: {irc: {server: "irc.example.net:6667", nick: gw, sasl_user: gw, sasl_password_file: \(secret)}}
            """)
        #expect(plaintext.errors.isEmpty)
        #expect(plaintext.warnings.map(\.path) == ["access.admins", "platforms.irc.sasl_user"])
        #expect(plaintext.warnings.first?.description.contains("set tls: true") == true)
        #expect(parse("""
            access: {admins: ["irc:~alice"]}
            platforms: {irc: {server: "irc.example.net:6697", nick: gw, tls: true}}
            """).problems.isEmpty)
        #expect(parse("""
            access: {admins: ["webhook:ops"]}
            platforms: {irc: {server: "irc.example.net:6667", nick: gw}}
            """).problems.isEmpty)
    }

    @Test("admins anyone on IRC can match (\"*\" with IRC, irc:*, a mask with an all-wildcard host): a warning naming the entry and its line")
    func openAdminsWarning() {
        let tls = "platforms: {irc: {server: \"irc.example.net:6697\", nick: gw, tls: true}}"
        let outcome = parse("""
            access:
              admins:
                - "*"
                - "irc:*"
                - "irc:*!*@*"
                - "irc:bob!*@?*"
                - "irc:~alice"
                - "irc:bob!~bob@*.example.org"
                - "local:*"
            \(tls)
            """)
        #expect(outcome.errors.isEmpty, "warnings, not errors: \(outcome.errors)")
        let warnings = outcome.warnings.map(\.description)
        #expect(warnings.count == 4, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix(#"access.admins: "*" makes everyone an admin, on IRC too"#) && $0.hasSuffix("(line 3)") })
        #expect(warnings.contains { $0.hasPrefix(#"access.admins: "irc:*" makes everyone on IRC an admin"#) && $0.hasSuffix("(line 4)") })
        #expect(warnings.contains { $0.hasPrefix(#"access.admins: "irc:*!*@*" matches anyone"#) && $0.hasSuffix("(line 5)") })
        #expect(warnings.contains { $0.hasPrefix(#"access.admins: "irc:bob!*@?*" matches anyone"#) && $0.hasSuffix("(line 6)") })
        // Without IRC, "*" and "local:*" name local users (vetted by uid) and signed webhook callers.
        #expect(parse(#"access: {allowed_users: ["*"], admins: ["*", "local:*"]}"#).problems.isEmpty)
        #expect(parse("access: {allowed_users: [\"irc:*\", \"irc:*!*@*\"]}\n" + tls).problems.isEmpty,
                "anyone may talk to the bot: only admins are warned about")
    }
}
