import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import NIOConcurrencyHelpers
import Testing
#if canImport(Glibc)
import Glibc
#endif

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

    /// `reload --check` reads the files a client's text names: open(2) of a FIFO with no
    /// writer used to wait for good, on the daemon's actor, so no control call, reload or stop
    /// was served after it (gatewayctl status hung; SIGTERM waited too).
    @Test("a FIFO or a device as secret_file, sasl_password_file or tls_ca_file is refused at once, not waited on")
    func nonRegularFiles() throws {
        let directory = makeTemporaryDirectory("gatewayd-settings-fifo")
        let fifo = directory + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let texts = [
            "platforms: {irc: {server: \"irc.example.net:6697\", nick: gw, tls: true, tls_ca_file: \(fifo)}}",
            "platforms: {irc: {server: \"irc.example.net:6697\", nick: gw, tls: true, sasl_user: gw, sasl_password_file: \(fifo)}}",
            "platforms: {webhook: {listen: \"127.0.0.1:1\", secret_file: \(fifo)}}",
        ]
        let done = DispatchSemaphore(value: 0)
        let outcome = NIOLockedValueBox<[String]?>(nil)
        Thread.detachNewThread {
            let errors = texts.flatMap { ConfigLoader.parse($0, platforms: PlatformCatalog.all).errors.map(\.description) }
            outcome.withLockedValue { $0 = errors }
            done.signal()
        }
        let finished = done.wait(timeout: .now() + 30) == .success
        #expect(finished, "the reader waited on the FIFO")
        if !finished {
            // Let the blocked open(2) return, so the thread does not outlive the test.
            for _ in 0..<3 { let writer = open(fifo, O_WRONLY | O_NONBLOCK); if writer >= 0 { close(writer) } }
            return
        }
        let errors = try #require(outcome.withLockedValue { $0 })
        #expect(errors == [
            "platforms.irc.tls_ca_file: \(fifo): not a regular file (line 1)",
            "platforms.irc.sasl_password_file: cannot read \(fifo): not a regular file (line 1)",
            "platforms.webhook.secret_file: cannot read \(fifo): not a regular file (line 1)",
        ], "\(errors)")
        let device = parse("platforms: {webhook: {listen: \"127.0.0.1:1\", secret_file: /dev/zero}}")
        #expect(device.errors.map(\.description) == ["platforms.webhook.secret_file: cannot read /dev/zero: not a regular file (line 1)"])
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

    /// contrib/gatewayd.yaml as shipped, with its IRC and webhook examples uncommented and their
    /// files made real (a secret, a password, a CA certificate).
    func exampleWithEveryPlatform() throws -> String {
        let directory = makeTemporaryDirectory("gatewayd-example")
        try "s3cret\n".write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
        try IRCServer.makeCertificate(in: directory, name: "ca")
        var lines: [String] = []
        var inExample = false
        for line in try String(contentsOfFile: TestPaths.packageRoot + "/contrib/gatewayd.yaml", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "  # irc:" || line == "  # webhook:" { inExample = true }
            else if !line.hasPrefix("  #   ") { inExample = false }
            lines.append(inExample ? "  " + line.dropFirst(4) : String(line))
        }
        return lines.joined(separator: "\n")
            .replacingOccurrences(of: "/etc/gatewayd/webhook.secret", with: directory + "/secret")
            .replacingOccurrences(of: "/etc/gatewayd/irc-sasl.password", with: directory + "/secret")
            .replacingOccurrences(of: "/etc/gatewayd/irc-ca.pem", with: directory + "/ca.pem")
    }

    @Test("the example config, every platform in: valid; a typo in any key of any section is an error naming it and its line")
    func typosInTheExample() throws {
        let example = try exampleWithEveryPlatform()
        let valid = ConfigLoader.parse(example, platforms: PlatformCatalog.all, groupExists: { _ in true })
        #expect(valid.errors.isEmpty, "\(valid.errors)")
        #expect(valid.config.platforms.names == ["local", "irc", "webhook"])
        let lines = example.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var tried = 0
        for (index, line) in lines.enumerated() {
            // Every `key:` that is not a comment, at any depth, and every key inside a flow mapping.
            let body = line.drop { $0 == " " }
            guard !body.hasPrefix("#"), !body.isEmpty, let colon = body.firstIndex(of: ":") else { continue }
            var keys = [String(body[..<colon])]
            if let open = body.firstIndex(of: "{") {
                keys += body[open...].split(separator: ",").compactMap { part in
                    let key = part.drop { $0 == "{" || $0 == " " }.prefix { $0 != ":" }
                    return key.isEmpty || key.contains(" ") ? nil : String(key)
                }
            }
            for key in keys {
                var broken = lines
                broken[index] = line.replacingOccurrences(of: "\(key):", with: "\(key)x:")
                let outcome = ConfigLoader.parse(broken.joined(separator: "\n"), platforms: PlatformCatalog.all, groupExists: { _ in true })
                let reported = outcome.errors.contains { $0.path.hasSuffix("\(key)x") && $0.message == "unknown key" && $0.line == index + 1 }
                // A quick command's name is the operator's to choose; a typo there is another command.
                if lines[..<index].last(where: { !$0.hasPrefix(" ") && !$0.hasPrefix("#") }) == "quick_commands:                     # same shape as the reference gateway's config.yaml"
                    && line.hasPrefix("  ") && !line.hasPrefix("   ") && key == String(body[..<colon]) { continue }
                #expect(reported, "\(key) on line \(index + 1): \(outcome.errors.map(\.description))")
                tried += 1
            }
        }
        #expect(tried > 40, "every key was tried: \(tried)")
    }

    @Test("a CA certificate rotated under the same path is a change a reload sees (reconnects IRC)")
    func rotatedCA() throws {
        let directory = makeTemporaryDirectory("gatewayd-ca")
        try IRCServer.makeCertificate(in: directory, name: "first")
        try IRCServer.makeCertificate(in: directory, name: "second")
        let ca = directory + "/ca.pem"
        let yaml = "server: \"irc.example.net:6697\"\nnick: gw\ntls: true\ntls_ca_file: \(ca)\n"
        try FileManager.default.copyItem(atPath: directory + "/first.pem", toPath: ca)
        let before = try IRCConfiguration.parse(yaml)
        try FileManager.default.removeItem(atPath: ca)
        try FileManager.default.copyItem(atPath: directory + "/second.pem", toPath: ca)
        let after = try IRCConfiguration.parse(yaml)
        #expect(after.changedKeys(from: before) == ["tls_ca_file"])
        #expect(!after.appliesInPlace(over: before))
        #expect(try IRCConfiguration.parse(yaml).changedKeys(from: after).isEmpty, "the same file: no change")
    }
}
