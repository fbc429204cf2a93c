import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built gatewayd as a plain child process (no systemd needed), logging to a file.
private func startDaemon(config: String, directory: String, log: String) throws -> TestChild {
    let logFile = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    defer { close(logFile) }
    return try TestChild(
        [TestPaths.product("gatewayd"), "--config", config, "--socket", directory + "/control.sock", "--log-target", "console"],
        environment: environment(with: [:]), standardOutput: .null, standardError: .descriptor(logFile))
}

/// gatewayd.yaml in `directory`: `lines` (access, agent, drain), then the IRC server (joining
/// #ops, reconnecting after 100 ms) and a state directory of its own. Returns its path.
private func writeConfig(_ lines: String..., server: IRCServer, directory: String) throws -> String {
    let path = directory + "/gatewayd.yaml"
    try (lines + [
        "platforms:",
        ##"  irc: {server: "127.0.0.1:\##(server.port)", nick: gatewayd, channels: ["#ops"], reconnect_min: 100ms}"##,
        "state_dir: \(directory)/state",
    ]).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("gatewayd over IRC", .timeLimit(.minutes(2)), .serialized,
       .enabled(if: IRCServer.isAvailable, "ngircd is not installed (.ci/install-deps installs it)"))
struct IRCRestartTests {
    @Test("/restart from IRC: after the restart the chat is told, because the adapter is connected before the notice goes",
          .ownThread)
    func restartNotice() async throws {
        let server = try IRCServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-irc-restart")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/gatewayd.log"
        let config = try writeConfig(#"access: {allowed_users: ["irc:*"], admins: ["irc:alice!~alice@127.0.0.1"]}"#,
                                     "drain: {timeout: 5s}", server: server, directory: directory)
        let alice = try LineClient(port: server.port)
        defer { alice.close() }
        try alice.register("alice", joining: "#ops")

        let first = try startDaemon(config: config, directory: directory, log: log)
        let joined = alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.contains(" JOIN ") }
        #expect(joined != nil, "the gateway joined #ops")
        alice.send("PRIVMSG gatewayd :/restart")
        #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasSuffix(" PRIVMSG alice :\(GatewayText.restarting)") } != nil)
        #expect(waitForExit(of: first.pid, timeout: .seconds(30)))
        #expect(first.wait() == GatewayConstants.ExitStatus.restartRequested)

        let second = try startDaemon(config: config, directory: directory, log: log)
        let notice = alice.waitFor(timeout: .seconds(20)) { $0.contains(" PRIVMSG alice :") }
        kill(second.pid, SIGTERM)
        #expect(waitForExit(of: second.pid, timeout: .seconds(30)))
        _ = second.wait()  // reaped: a zombie child of the test process stalls Swift Testing's child monitor
        #expect(notice?.hasSuffix(" PRIVMSG alice :\(GatewayText.restartedSuccessfully)") == true,
                "\(notice ?? "no message"); log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    @Test("stopped while a long reply trickles out under the flood limit: the next start sends it, marked as a possible repeat",
          .ownThread)
    func queuedReplySurvivesStop() async throws {
        let server = try IRCServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-irc-ledger")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/gatewayd.log"
        let path = directory + "/gatewayd.yaml"
        try """
            access: {allowed_users: ["irc:*"], admins: ["irc:alice!~alice@127.0.0.1"]}
            drain: {timeout: 1s}
            quick_commands:
              many: {type: exec, command: "seq -f 'line %g' 1 16"}
            platforms:
              irc: {server: "127.0.0.1:\(server.port)", nick: gatewayd, channels: ["#ops"], reconnect_min: 100ms, flood_burst: 1, flood_per_second: 2}
            state_dir: \(directory)/state
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let alice = try LineClient(port: server.port)
        defer { alice.close() }
        try alice.register("alice", joining: "#ops")

        let first = try startDaemon(config: path, directory: directory, log: log)
        #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.contains(" JOIN ") } != nil)
        alice.send("PRIVMSG #ops :gatewayd: /many")
        let firstLine = alice.waitFor(timeout: .seconds(20)) { $0.hasSuffix(" PRIVMSG #ops :line 1") }
        kill(first.pid, SIGTERM)
        #expect(waitForExit(of: first.pid, timeout: .seconds(30)))
        #expect(first.wait() == 0)
        #expect(firstLine != nil, "log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        let second = try startDaemon(config: path, directory: directory, log: log)
        let marked = alice.waitFor(timeout: .seconds(20)) { $0.contains(" PRIVMSG #ops :\(GatewayText.possibleRepeat)line 1") }
        let last = alice.waitFor(timeout: .seconds(60)) { $0.hasSuffix(" PRIVMSG #ops :line 16") }
        kill(second.pid, SIGTERM)
        #expect(waitForExit(of: second.pid, timeout: .seconds(30)))
        _ = second.wait()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(marked != nil && last != nil, "log: \(text)")
        #expect(text.contains("ledger_resend") || text.contains("left unsent before the restart"), "\(text)")
    }

    @Test("killed mid-turn, restarted after alice left and mallory took her nick: the replayed reply is withheld from mallory, bob (still there) gets his",
          .ownThread)
    func replayedReplyFollowsThePerson() async throws {
        let server = try IRCServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-irc-replay")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = FIFOSignal(), gate = FIFOSignal()
        let log = directory + "/gatewayd.log"
        // The first process's turns say they started and wait at the gate; the second's answer at once.
        try """
            read -r line
            if [ ! -e \(directory)/second ]; then echo started > \(started.path); read go < \(gate.path); fi
            case $line in *xyzzy*) echo "the secret for alice";; *plugh*) echo "the answer for bob";; *) echo "the answer for mallory";; esac
            """.write(toFile: directory + "/agent.sh", atomically: true, encoding: .utf8)
        let config = try writeConfig(#"access: {allowed_users: ["irc:*"]}"#,
                                     #"agent: {backend: command, command: ["/bin/sh", "\#(directory)/agent.sh"]}"#,
                                     "drain: {timeout: 10s}", server: server, directory: directory)
        let bob = try LineClient(port: server.port)
        defer { bob.close() }
        try bob.register("bob", joining: "#ops")
        let alice = try LineClient(port: server.port)
        try alice.register("alice", joining: nil)

        let first = try startDaemon(config: config, directory: directory, log: log)
        #expect(bob.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.contains(" JOIN ") } != nil)
        alice.send("PRIVMSG gatewayd :xyzzy")
        #expect(await started.waitForLine() == "started")
        bob.send("PRIVMSG gatewayd :plugh")
        #expect(await started.waitForLine() == "started")
        // Both turns are running (so both messages are in state.db): gatewayd dies.
        kill(first.pid, SIGKILL)
        _ = first.wait()
        gate.send("go")
        gate.send("go")  // the orphaned turns end (their output has no reader left)

        alice.send("QUIT :bye")
        _ = alice.waitFor { $0.hasPrefix("ERROR") }
        alice.close()
        let mallory = try LineClient(port: server.port)
        defer { mallory.close() }
        try mallory.register("alice", user: "mallory", joining: nil)

        FileManager.default.createFile(atPath: directory + "/second", contents: nil)
        let second = try startDaemon(config: config, directory: directory, log: log)
        let answer = bob.waitFor(timeout: .seconds(30)) { $0.contains(" PRIVMSG bob :") }
        #expect(answer?.hasSuffix(" PRIVMSG bob :the answer for bob") == true, "\(answer ?? "nothing")")
        var received: [String] = []
        mallory.send("PRIVMSG gatewayd :frotz")
        let own = mallory.waitFor(timeout: .seconds(30)) { line in
            received.append(line)
            return line.contains(" PRIVMSG alice :the answer for mallory")
        }
        #expect(own != nil, "mallory's own message is answered")
        kill(second.pid, SIGTERM)
        #expect(waitForExit(of: second.pid, timeout: .seconds(30)))
        _ = second.wait()  // reaped: a zombie child of the test process stalls Swift Testing's child monitor
        #expect(second.wait() == 0)
        // Everything gatewayd sent mallory was relayed before the server answers her PING.
        mallory.send("PING :done")
        _ = mallory.waitFor(timeout: .seconds(10)) { line in
            received.append(line)
            return line.contains("PONG") && line.hasSuffix(":done")
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!received.contains { $0.contains("secret") }, "\(received)")
        #expect(text.contains("a private reply to alice was withheld"), "\(text)")
    }

    @Test("a control socket that cannot be served: exit 1, and the bot leaves IRC with its QUIT, not a dropped connection",
          .ownThread)
    func socketFailureLeavesProperly() throws {
        let server = try IRCServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-irc-socket")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/gatewayd.yaml", log = directory + "/gatewayd.log"
        try """
            platforms:
              irc: {server: "127.0.0.1:\(server.port)", nick: gatewayd, channels: ["#ops"]}
            state_dir: \(directory)/state
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let alice = try LineClient(port: server.port)
        defer { alice.close() }
        try alice.register("alice", joining: "#ops")
        // The socket's directory is a file: no socket can be bound there.
        try "not a directory".write(toFile: directory + "/control.sock", atomically: true, encoding: .utf8)
        let logFile = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let daemon = try TestChild(
            [TestPaths.product("gatewayd"), "--config", config, "--socket", directory + "/control.sock/control", "--log-target", "console"],
            environment: environment(with: [:]), standardOutput: .null, standardError: .descriptor(logFile))
        close(logFile)
        #expect(alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.contains(" JOIN ") } != nil)
        let quit = alice.waitFor(timeout: .seconds(20)) { $0.hasPrefix(":gatewayd!") && $0.contains(" QUIT ") }
        #expect(waitForExit(of: daemon.pid, timeout: .seconds(30)))
        #expect(daemon.wait() == GatewayConstants.ExitStatus.failure)
        let logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(quit?.contains("gatewayd stopping") == true, "\(quit ?? "no QUIT"); log: \(logged)")
        #expect(logged.contains("cannot serve the control socket"))
    }
}
