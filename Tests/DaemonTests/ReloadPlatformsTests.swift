import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A reload against a real ngircd and a real webhook at once: each platform is changed on its
/// own, and what did not change is not touched.
@Suite("Reload applies the platforms one by one", .timeLimit(.minutes(2)), .serialized,
       .enabled(if: IRCServer.isAvailable, "ngircd is not installed (.ci/install-deps installs it)"))
struct ReloadPlatformsTests {
    /// The test's files: the config (rewritten by `write`), the webhook's secret, a signed POST,
    /// and an agent whose turns for a text with "hold" wait at `gate`.
    struct Setup {
        let directory = makeTemporaryDirectory("gatewayd-reload-platforms")
        let webhookPort = freeLoopbackPort()
        let started = FIFOSignal(), gate = FIFOSignal()
        var config: String { directory + "/gatewayd.yaml" }
        var socket: String { directory + "/control.sock" }

        init() throws {
            try "s3cret\n".write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
            try """
                read -r line
                case $line in *hold*) echo started > \(started.path); read go < \(gate.path); echo "done: hold";; *) echo "done";; esac
                """.write(toFile: directory + "/agent.sh", atomically: true, encoding: .utf8)
            try """
                sig=$(python3 -c 'import hmac,hashlib,sys; print("sha256=" + hmac.new(sys.argv[2].encode(), sys.argv[1].encode(), hashlib.sha256).hexdigest())' "$1" "${SECRET:-s3cret}")
                curl -sS --max-time 60 -w ' %{http_code}' -H "X-Hub-Signature-256: $sig" --data-binary "$1" http://127.0.0.1:${PORT:-\(webhookPort)}/webhook
                """.write(toFile: directory + "/post.sh", atomically: true, encoding: .utf8)
        }

        func write(server: IRCServer, nick: String = "gatewayd", channels: String, secret: String = "secret") throws {
            try """
                control: {socket: \(socket)}
                agent: {backend: command, command: ["/bin/sh", "\(directory)/agent.sh"]}
                access: {allowed_users: ["irc:*", "webhook:*", "local:*"]}
                platforms:
                  irc: {server: "127.0.0.1:\(server.port)", nick: \(nick), channels: \(channels), reconnect_min: 100ms}
                  webhook: {listen: "127.0.0.1:\(webhookPort)", secret_file: \(directory)/\(secret)}
                state_dir: \(directory)/state
                """.write(toFile: config, atomically: true, encoding: .utf8)
        }

        /// A configuration with the local platform and, when `webhook` names a port, the webhook on it.
        func writeWithoutIRC(webhook: Int?) throws {
            try """
                control: {socket: \(socket)}
                agent: {backend: command, command: ["/bin/sh", "\(directory)/agent.sh"]}
                access: {allowed_users: ["webhook:*", "local:*"]}
                platforms:
                  local: {enabled: true}
                \(webhook.map { "  webhook: {listen: \"127.0.0.1:\($0)\", secret_file: \(directory)/secret}" } ?? "")
                state_dir: \(directory)/state
                """.write(toFile: config, atomically: true, encoding: .utf8)
        }

        /// A delivery signed with `secret`, posted by a child process (its output: the body and
        /// the HTTP code).
        func post(_ text: String, secret: String = "s3cret", chat: String = "room", port: Int? = nil) throws -> TestChild {
            try TestChild(["/bin/sh", directory + "/post.sh", #"{"chat":"\#(chat)","user":"ops","text":"\#(text)"}"#],
                          environment: environment(with: ["SECRET": secret, "PORT": port.map(String.init)]),
                          standardOutput: .pipe, standardError: .pipe)
        }

        /// `post`, waited for (in a chat of its own: the held turn's session stays busy): its output.
        func posted(_ text: String, secret: String = "s3cret", port: Int? = nil) throws -> String {
            let child = try post(text, secret: secret, chat: "other-room", port: port)
            let output = child.readToEnd()
            _ = child.wait()
            return String(decoding: output.standardOutput, as: UTF8.self)
        }

        /// gatewayd on this setup, with alice in #ops on `server` and a turn of hers held at the gate.
        func daemonWithHeldTurn(on server: IRCServer) async throws -> (ForegroundDaemon, LineClient) {
            try write(server: server, channels: ##"["#ops"]"##)
            let alice = try await LineClient.registered(port: server.port, "alice", joining: "#ops")
            let daemon = try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", config, "--log-target", "console"],
                                              environment: environment(with: [:]), directory: directory)
            #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" JOIN :#ops") } != nil)
            alice.send("PRIVMSG #ops :gatewayd: hold this")
            #expect(await started.waitForLine() == "started")
            return (daemon, alice)
        }

        func ctl(_ arguments: [String]) throws -> ProcessOutput {
            try run([TestPaths.product("gatewayctl"), "--socket", socket] + arguments)
        }
    }

    @Test("channels change on the open connection (PART, JOIN), a new server reconnects IRC only; the webhook keeps its request in flight",
          .ownThread)
    func platformsOneByOne() async throws {
        let first = try await IRCServer.started(), second = try await IRCServer.started()
        defer { first.stop(); second.stop() }
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        try setup.write(server: first, channels: ##"["#ops"]"##)
        let alice = try await LineClient.registered(port: first.port, "alice", joining: "#ops")
        defer { alice.close() }
        alice.send("JOIN #dev")
        let daemon = try ForegroundDaemon(
            [TestPaths.product("gatewayd"), "--config", setup.config, "--log-target", "console"],
            environment: environment(with: [:]), directory: setup.directory)
        #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" JOIN :#ops") } != nil)

        // A webhook turn held in flight across both reloads.
        let held = try setup.post("hold this")
        #expect(await setup.started.waitForLine() == "started")

        // 1. Channels: #ops → #dev, on the same connection.
        try setup.write(server: first, channels: ##"["#dev"]"##)
        let channels = try setup.ctl(["--json", "reload"])
        #expect(channels.status == 0, "\(channels.standardError)")
        #expect(channels.standardOutput.contains(#""section":"platforms.irc""#), "\(channels.standardOutput)")
        #expect(channels.standardOutput.contains("channels (in place): applied in place"), "\(channels.standardOutput)")
        #expect(!channels.standardOutput.contains(#""section":"platforms.webhook""#), "the webhook did not change")
        var seen: [String] = []
        let joinedDev = alice.waitFor(timeout: .seconds(20)) { line in
            if line.hasPrefix(":gatewayd!") { seen.append(line) }
            return line.hasPrefix(":gatewayd!") && line.contains(" JOIN ") && line.contains("#dev")
        }
        #expect(joinedDev != nil, "\(seen)")
        #expect(seen.contains { $0.contains(" PART #ops") }, "parted #ops: \(seen)")
        #expect(!seen.contains { $0.contains(" QUIT ") }, "the IRC connection stayed: \(seen)")

        // 2. The IRC server: only IRC reconnects, to the second server.
        let bob = try await LineClient.registered(port: second.port, "bob", joining: "#dev")
        defer { bob.close() }
        try setup.write(server: second, channels: ##"["#dev"]"##)
        let server = try setup.ctl(["--json", "reload"])
        #expect(server.status == 0, "\(server.standardError)")
        #expect(server.standardOutput.contains("server (reconnects): restarted with the new settings"), "\(server.standardOutput)")
        #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.contains(" QUIT ") } != nil, "left the first server")
        #expect(bob.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" JOIN :#dev") } != nil, "joined on the second")

        // 3. The webhook's secret rotated: in place, the listening socket and the held request
        // untouched; the next delivery needs the new secret.
        try "n3w-secret\n".write(toFile: setup.directory + "/secret2", atomically: true, encoding: .utf8)
        try setup.write(server: second, channels: ##"["#dev"]"##, secret: "secret2")
        let rotated = try setup.ctl(["--json", "reload"])
        #expect(rotated.status == 0, "\(rotated.standardError)")
        #expect(rotated.standardOutput.contains("secret_file (in place): applied in place"), "\(rotated.standardOutput)")
        #expect(try setup.posted("old key", secret: "s3cret").hasSuffix(" 401"), "the old secret no longer signs")
        #expect(try setup.posted("new key", secret: "n3w-secret") == #"{"replies":["done"]} 200"#)

        // The webhook request held across all three reloads is answered on its own connection.
        setup.gate.send("go")
        let answer = held.readToEnd()
        #expect(held.wait() == 0)
        #expect(String(decoding: answer.standardOutput, as: UTF8.self) == #"{"replies":["done: hold"]} 200"#,
                "\(String(decoding: answer.standardError, as: UTF8.self))")

        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
        #expect(log.contains("platforms.irc: server (reconnects): restarted with the new settings"), "one journal record per reload: \(log)")
    }

    @Test("a turn that outlives two replacements of the IRC adapter is answered through the newest connection", .ownThread)
    func replyAfterTwoReplacements() async throws {
        let ircd = try await IRCServer.started()
        defer { ircd.stop() }
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let (daemon, alice) = try await setup.daemonWithHeldTurn(on: ircd)
        defer { alice.close() }
        // Two settings in turn that each need a new connection, while the turn runs.
        let original = try String(contentsOfFile: setup.config, encoding: .utf8)
        for burst in [20, 30] {
            try original.replacingOccurrences(of: "reconnect_min: 100ms", with: "reconnect_min: 100ms, flood_burst: \(burst)")
                .write(toFile: setup.config, atomically: true, encoding: .utf8)
            let reload = try setup.ctl(["reload"])
            #expect(reload.status == 0, "\(reload.standardOutput) \(reload.standardError)")
            #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.contains(" QUIT ") && $0.contains("new settings") } != nil)
            #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" JOIN :#ops") } != nil, "back in #ops")
        }
        setup.gate.send("go")
        #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" PRIVMSG #ops :done: hold") } != nil,
                "the reply went out through the newest connection")
        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
        #expect(!log.contains("reply_undelivered"), "\(log)")
    }

    @Test("a turn that outlives a move to another IRC server is not answered there (same channel name, other people)", .ownThread)
    func noReplyAcrossServers() async throws {
        let first = try await IRCServer.started()
        defer { first.stop() }
        let second = try await IRCServer.started()
        defer { second.stop() }
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let bob = try await LineClient.registered(port: second.port, "bob", joining: "#ops")
        defer { bob.close() }
        let (daemon, alice) = try await setup.daemonWithHeldTurn(on: first)
        defer { alice.close() }
        // Another server (another host name: another network as far as the gateway can tell).
        let text = try String(contentsOfFile: setup.config, encoding: .utf8)
            .replacingOccurrences(of: "127.0.0.1:\(first.port)", with: "localhost:\(second.port)")
        try text.write(toFile: setup.config, atomically: true, encoding: .utf8)
        let reload = try setup.ctl(["reload"])
        #expect(reload.status == 0, "\(reload.standardOutput) \(reload.standardError)")
        #expect(bob.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.hasSuffix(" JOIN :#ops") } != nil, "joined there")
        setup.gate.send("go")
        // The stop lets the turn end and its reply go wherever it goes before the QUIT.
        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
        var seen: [String] = []
        #expect(bob.waitFor(timeout: .seconds(20)) { seen.append($0); return $0.hasPrefix(":gatewayd!") && $0.contains(" QUIT ") } != nil)
        #expect(!seen.contains { $0.contains("PRIVMSG #ops :done: hold") }, "the reply reached #ops on the other server: \(seen)")
        #expect(log.contains("reply_undelivered"), "\(log)")
    }

    @Test("reload --check: per section, live or restart; exit 0, 1 (problems with lines) or 2; nothing applied; GetStatus has the revision",
          .ownThread)
    func check() async throws {
        let ircd = try await IRCServer.started()
        defer { ircd.stop() }
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        try setup.write(server: ircd, channels: ##"["#ops"]"##)
        let daemon = try ForegroundDaemon(
            [TestPaths.product("gatewayd"), "--config", setup.config, "--log-target", "console"],
            environment: environment(with: [:]), directory: setup.directory)
        let checkOutput = try run([TestPaths.product("gatewayd"), "--check-config", "--config", setup.config]).standardOutput
        let digest = String(try #require(checkOutput.split(separator: " ").last?.dropLast(2), "\(checkOutput)"))  // "... (revision X)\n"
        #expect(digest.count == 16, "\(checkOutput)")
        let status = try setup.ctl(["--json", "status"])
        #expect(status.standardOutput.contains(#""config_revision":"\#(digest)""#), "\(status.standardOutput)")
        #expect(status.standardOutput.contains(#""config_loaded_usec":"#))
        #expect(try setup.ctl(["status"]).standardOutput.contains("Config: revision \(digest), applied "))

        let same = try setup.ctl(["reload", "--check"])
        #expect(same.status == 0 && same.standardOutput.contains("No changes against the running configuration."), "\(same.standardOutput)")

        // Another file: quick commands (live), the socket (restart), a channel (in place).
        let other = setup.directory + "/other.yaml"
        let text = try String(contentsOfFile: setup.config, encoding: .utf8)
            .replacingOccurrences(of: ##"channels: ["#ops"]"##, with: ##"channels: ["#ops", "#dev"]"##)
            .replacingOccurrences(of: "control: {socket: \(setup.socket)}", with: "control: {socket: /run/elsewhere.sock}")
            + "\nquick_commands: {up: {type: exec, command: uptime}}\n"
        try text.write(toFile: other, atomically: true, encoding: .utf8)
        let checked = try setup.ctl(["reload", "--check", "--config", other])
        #expect(checked.status == 2, "\(checked.standardOutput) \(checked.standardError)")
        #expect(checked.standardOutput.contains("quick_commands") && checked.standardOutput.contains("added up"), "\(checked.standardOutput)")
        #expect(checked.standardOutput.contains("control.socket  [restart]  \(setup.socket) → /run/elsewhere.sock"), "\(checked.standardOutput)")
        #expect(checked.standardOutput.contains("Not applied until a restart: control.socket"), "\(checked.standardOutput)")
        #expect(checked.standardOutput.contains("channels (in place)"), "\(checked.standardOutput)")
        #expect(try setup.ctl(["quick", "list"]).standardOutput.contains("up") == false, "a check applies nothing")

        // A file with typos: every one with its line, exit 1, nothing applied.
        try "platforms:\n  irc: {server: \"127.0.0.1:1\", nick: gw, chanels: [\"#x\"]}\nexec: {max_concurent: 3}\n"
            .write(toFile: other, atomically: true, encoding: .utf8)
        let invalid = try setup.ctl(["reload", "--check", "--config", other])
        #expect(invalid.status == 1)
        #expect(invalid.standardOutput.contains("platforms.irc.chanels: unknown key (line 2)"), "\(invalid.standardOutput)")
        #expect(invalid.standardOutput.contains("exec.max_concurent: unknown key (line 3)"), "\(invalid.standardOutput)")
        let json = try setup.ctl(["--json", "reload", "--check", "--config", other])
        #expect(json.status == 1 && json.standardOutput.contains(#""valid":false"#) && json.standardOutput.contains(#""line":2"#),
                "\(json.standardOutput)")
        #expect(try setup.ctl(["reload", "--config", other]).status == 64, "--config without --check is a usage error")

        // Applied for real, the socket keeps its old path and the status says a restart is due.
        try text.write(toFile: setup.config, atomically: true, encoding: .utf8)
        let applied = try setup.ctl(["reload"])
        #expect(applied.status == 2, "\(applied.standardOutput) \(applied.standardError)")
        let after = try setup.ctl(["--json", "status"])
        #expect(after.status == 0, "still on the old socket")
        #expect(after.standardOutput.contains(#""restart_needed":["control.socket"]"#), "\(after.standardOutput)")
        #expect(!after.standardOutput.contains(#""config_revision":"\#(digest)""#), "a new revision")
        #expect(try setup.ctl(["quick", "list"]).standardOutput.contains("up"))
        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
        #expect(log.contains("restart to apply control.socket"), "\(log)")
    }
}

/// Platforms added, removed, and one that cannot start with its new settings: the webhook alone
/// (no ngircd needed).
@Suite("Reload adds and removes platforms", .timeLimit(.minutes(1)), .ownThread)
struct ReloadAddRemoveTests {
    @Test("a webhook moved to a new address answers its requests under way on the old one; the new one serves at once")
    func moveListen() async throws {
        let setup = try ReloadPlatformsTests.Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        try setup.writeWithoutIRC(webhook: setup.webhookPort)
        let daemon = try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", setup.config, "--log-target", "console"],
                                          environment: environment(with: [:]), directory: setup.directory)
        let held = try setup.post("hold this")
        #expect(await setup.started.waitForLine() == "started")
        let newPort = freeLoopbackPort()
        try setup.writeWithoutIRC(webhook: newPort)
        let moved = try setup.ctl(["reload"])
        #expect(moved.status == 0, "\(moved.standardOutput) \(moved.standardError)")
        // Released at once: the old listener gives a request under way its flush window (5 s)
        // from the reload on, and a loaded machine spent that on the next request (curl 52).
        setup.gate.send("go")
        #expect(moved.standardOutput.contains("listen (reconnects): restarted with the new settings"), "\(moved.standardOutput)")
        #expect(try setup.posted("fresh", port: newPort) == #"{"replies":["done"]} 200"#, "the new address serves")
        let answer = held.readToEnd()
        #expect(held.wait() == 0)
        #expect(String(decoding: answer.standardOutput, as: UTF8.self) == #"{"replies":["done: hold"]} 200"#,
                "the request under way was answered: \(String(decoding: answer.standardError, as: UTF8.self))")
        #expect(try setup.posted("old address").hasSuffix(" 000"), "nothing listens on the old address")
        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
        #expect(!log.contains("platform_failed"), "\(log)")
    }

    @Test("an added webhook starts; one whose new listen address is taken keeps its old one (exit 1, FAILED); a removed one stops")
    func addRemove() throws {
        let setup = try ReloadPlatformsTests.Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let holder = try LoopbackListener()  // holds a port: the webhook cannot bind it
        func write(webhook: Int?) throws { try setup.writeWithoutIRC(webhook: webhook) }
        func post() throws -> String { try setup.posted("hello") }
        try write(webhook: nil)
        let daemon = try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", setup.config, "--log-target", "console"],
                                          environment: environment(with: [:]), directory: setup.directory)
        try write(webhook: setup.webhookPort)
        let added = try setup.ctl(["reload"])
        #expect(added.status == 0, "\(added.standardOutput) \(added.standardError)")
        #expect(added.standardOutput.contains("platforms.webhook  [live]     added (starts): started"), "\(added.standardOutput)")
        #expect(try post() == #"{"replies":["done"]} 200"#)

        try write(webhook: holder.port)
        let taken = try setup.ctl(["reload"])
        #expect(taken.status == 1, "\(taken.standardOutput) \(taken.standardError)")
        #expect(taken.standardOutput.contains("[FAILED]") && taken.standardOutput.contains("running with the old settings"),
                "\(taken.standardOutput)")
        #expect(!taken.standardOutput.contains("Every change applied"), "\(taken.standardOutput)")
        #expect(taken.standardOutput.contains("Not applied: platforms.webhook"), "\(taken.standardOutput)")
        #expect(try post() == #"{"replies":["done"]} 200"#, "still on the old address")
        #expect(try setup.ctl(["status"]).standardOutput.contains("webhook (up: listening on 127.0.0.1:\(setup.webhookPort))"))
        // The same file again: the change still stands against what runs, and fails again,
        // rather than "No changes" (exit 0) while the webhook serves the old address.
        let again = try setup.ctl(["reload"])
        #expect(again.status == 1, "\(again.standardOutput) \(again.standardError)")
        #expect(again.standardOutput.contains("platforms.webhook  [FAILED]   listen (reconnects)"), "\(again.standardOutput)")
        let pending = try setup.ctl(["reload", "--check"])
        #expect(pending.status == 0 && pending.standardOutput.contains("platforms.webhook  [live]     listen (reconnects)"),
                "\(pending.standardOutput)")

        try write(webhook: nil)
        let removed = try setup.ctl(["--json", "reload"])
        #expect(removed.status == 0)
        #expect(removed.standardOutput.contains(#""summary":"removed (stops): stopped""#), "\(removed.standardOutput)")
        #expect(try post().hasSuffix(" 000"), "nothing listens any more")
        #expect(try setup.ctl(["--json", "status"]).standardOutput.contains(#""platforms":["local"]"#))
        let (exit, log) = daemon.stop()
        #expect(exit == 0, "\(log)")
    }
}
