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
        let config = directory + "/gatewayd.yaml", log = directory + "/gatewayd.log"
        try """
            access: {allowed_users: ["irc:*"], admins: ["irc:alice!~alice@127.0.0.1"]}
            platforms:
              irc: {server: "127.0.0.1:\(server.port)", nick: gatewayd, channels: ["#ops"], reconnect_min: 100ms}
            drain: {timeout: 5s}
            state_dir: \(directory)/state
            """.write(toFile: config, atomically: true, encoding: .utf8)
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
        #expect(notice?.hasSuffix(" PRIVMSG alice :\(GatewayText.restartedSuccessfully)") == true,
                "\(notice ?? "no message"); log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
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
