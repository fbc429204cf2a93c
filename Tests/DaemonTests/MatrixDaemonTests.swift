import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("gatewayd over Matrix (a real Synapse)", .timeLimit(.minutes(3)), .serialized,
       .enabled(if: SynapseServer.isAvailable, Comment(rawValue: SynapseServer.unavailableReason ?? "")))
struct MatrixDaemonTests {
    /// The built gatewayd as a plain child process, logging to `log`.
    private func startDaemon(config: String, directory: String, log: String) throws -> TestChild {
        let logFile = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer { close(logFile) }
        return try TestChild(
            [TestPaths.product("gatewayd"), "--config", config, "--socket", directory + "/control.sock", "--log-target", "console"],
            environment: environment(with: ["CREDENTIALS_DIRECTORY": nil]), standardOutput: .null, standardError: .descriptor(logFile))
    }

    private func stopDaemon(_ daemon: TestChild) {
        kill(daemon.pid, SIGTERM)
        #expect(waitForExit(of: daemon.pid, timeout: .seconds(30)))
        #expect(daemon.wait() == 0)
    }

    @Test("messages sent while gatewayd was stopped are answered after it starts (the since token is in state.db), none twice after another restart; the token is in no log line",
          .ownThread)
    func messagesWhileStopped() throws {
        let server = try SynapseServer.shared.get()
        let bot = try MatrixTestClient(server, name: server.uniqueName("bot"))
        let alice = try MatrixTestClient(server, name: server.uniqueName("alice"))
        let directory = makeTemporaryDirectory("gatewayd-matrix-daemon")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (bot.accessToken + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        let config = directory + "/gatewayd.yaml", log = directory + "/gatewayd.log"
        try """
            access: {allowed_users: ["matrix:\(alice.userID)"]}
            busy_input_mode: queue
            platforms:
              matrix: {homeserver: "\(server.baseURL)", user_id: "\(bot.userID)", access_token_file: \(directory)/token, poll_timeout: 2s}
            state_dir: \(directory)/state
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let echoes = { alice.texts(in: $0, from: bot.userID).filter { $0.hasPrefix("echo:") } }

        let first = try startDaemon(config: config, directory: directory, log: log)
        let room = try alice.createRoom(invite: [bot.userID], direct: true)
        #expect(try alice.waitFor { _ in alice.hasJoined(bot.userID, room) })
        try alice.send("one", to: room)
        #expect(try alice.waitFor { _ in echoes(room).count >= 1 })
        stopDaemon(first)

        try alice.send("two", to: room)
        try alice.send("three", to: room)
        let second = try startDaemon(config: config, directory: directory, log: log)
        let resumed = try alice.waitFor { _ in echoes(room).count >= 3 }
        stopDaemon(second)

        let third = try startDaemon(config: config, directory: directory, log: log)
        try alice.send("four", to: room)
        let answered = try alice.waitFor { _ in echoes(room).count >= 4 }
        stopDaemon(third)

        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(resumed && answered, "log: \(text.suffix(3000))")
        #expect(echoes(room) == ["echo: one", "echo: two", "echo: three", "echo: four"], "each answered once")
        #expect(!text.contains(bot.accessToken), "the token is in the log")
    }
}
