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
}
