import Foundation
import GatewayCore
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("gatewayd over Telegram (a fake Bot API)", .timeLimit(.minutes(2)), .serialized)
struct TelegramDaemonTests {
    /// The built gatewayd as a plain child process, logging to `log`.
    private func startDaemon(config: String, directory: String, log: String) throws -> TestChild {
        let logFile = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer { close(logFile) }
        return try TestChild(
            [TestPaths.product("gatewayd"), "--config", config, "--socket", directory + "/control.sock", "--log-target", "console"],
            environment: environment(with: ["CREDENTIALS_DIRECTORY": nil]), standardOutput: .null, standardError: .descriptor(logFile))
    }

    @Test("updates sent while gatewayd was stopped are answered after it starts (the offset is in state.db), none twice; the token is in no log line",
          .ownThread)
    func updatesWhileStopped() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-telegram-daemon")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (server.token + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        let config = directory + "/gatewayd.yaml", log = directory + "/gatewayd.log"
        try """
            access: {allowed_users: ["telegram:*"]}
            busy_input_mode: queue
            platforms:
              telegram: {token_file: \(directory)/token, api_base: "\(server.baseURL)", poll_timeout: 1s}
            state_dir: \(directory)/state
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let first = try startDaemon(config: config, directory: directory, log: log)
        let one = server.post("one")
        #expect(server.waitForSent { $0.contains { $0.text == "echo: one" } })
        kill(first.pid, SIGTERM)
        #expect(waitForExit(of: first.pid, timeout: .seconds(30)))
        #expect(first.wait() == 0)

        // While it is down: two messages, and (at its start) another poller on the token.
        server.post("two")
        server.post("three", from: 1002)
        server.setConflict(true)
        let before = server.requests.count
        let second = try startDaemon(config: config, directory: directory, log: log)
        let conflicted = server.waitForCalls { $0.dropFirst(before).filter { $0.method == "getUpdates" }.count >= 2 }
        server.setConflict(false)
        let answered = server.waitForSent { sent in ["echo: two", "echo: three"].allSatisfy { text in sent.contains { $0.text == text } } }
        kill(second.pid, SIGTERM)
        #expect(waitForExit(of: second.pid, timeout: .seconds(30)))
        #expect(second.wait() == 0)

        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(conflicted && answered, "\(server.sent); log: \(text)")
        #expect(server.sent.filter { $0.text == "echo: one" }.count == 1, "answered once")
        let resumed = server.requests[before...].first { $0.method == "getUpdates" }
        #expect((resumed?.body["offset"] as? NSNumber)?.int64Value == one + 1, "the first poll after the start names the stored offset")
        #expect(text.contains(GatewayText.telegramConflict), "\(text)")
        let secretPart = String(server.token.split(separator: ":")[1])
        #expect(!text.contains(secretPart), "the token is in the log: \(text)")
    }

    @Test("kill -9 while a reply is being sent: the next start sends it once, marked as a possible repeat; its message is not answered again",
          .ownThread)
    func replyInFlightSurvivesKill() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-telegram-ledger")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (server.token + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        let config = directory + "/gatewayd.yaml", log = directory + "/gatewayd.log"
        try """
            access: {allowed_users: ["telegram:*"]}
            platforms:
              telegram: {token_file: \(directory)/token, api_base: "\(server.baseURL)", poll_timeout: 1s}
            state_dir: \(directory)/state
            """.write(toFile: config, atomically: true, encoding: .utf8)

        server.holdSends(true)
        let first = try startDaemon(config: config, directory: directory, log: log)
        server.post("in flight")
        let taken = server.waitForCalls { $0.contains { $0.method == "sendMessage" } }
        kill(first.pid, SIGKILL)
        #expect(waitForExit(of: first.pid, timeout: .seconds(30)))
        _ = first.wait()
        server.holdSends(false)
        #expect(taken, "the reply was never sent: \(server.requests.map(\.method))")
        #expect(server.sent.isEmpty)

        let second = try startDaemon(config: config, directory: directory, log: log)
        server.post("after")
        let answered = server.waitForSent { sent in sent.contains { $0.text == "echo: after" } && sent.contains { $0.text.hasSuffix("echo: in flight") } }
        let metrics = try run([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "metrics"]).standardOutput
        kill(second.pid, SIGTERM)
        #expect(waitForExit(of: second.pid, timeout: .seconds(30)))
        #expect(second.wait() == 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(answered, "\(server.sent); log: \(text)")
        let again = server.sent.filter { $0.text.hasSuffix("echo: in flight") }
        #expect(again.map(\.text) == [GatewayText.possibleRepeat + "echo: in flight"], "once, marked: \(server.sent)")
        #expect(metrics.contains(#"gatewayd_replies_total{outcome="resent",platform="telegram"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"gatewayd_replies_total{outcome="delivered",platform="telegram"} 2"#), "the resent one and after's: \(metrics)")

        // A third start has nothing left to send.
        let third = try startDaemon(config: config, directory: directory, log: log)
        server.post("third")
        #expect(server.waitForSent { sent in sent.contains { $0.text == "echo: third" } })
        kill(third.pid, SIGTERM)
        #expect(waitForExit(of: third.pid, timeout: .seconds(30)))
        #expect(third.wait() == 0)
        #expect(server.sent.filter { $0.text.hasSuffix("echo: in flight") }.count == 1, "\(server.sent)")
    }

    /// gatewayd.yaml for a command agent that prints `lines` lines for any message, then runs
    /// `after` (and says it printed them in `printed`).
    private func commandAgentConfig(_ server: FakeTelegramServer, _ directory: String, lines: Int, after: String) throws -> String {
        try (server.token + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        let config = directory + "/gatewayd.yaml"
        try """
            access: {allowed_users: ["telegram:*"]}
            agent:
              backend: command
              command: ["/bin/sh", "-c", "read -r line; seq -f 'line %g' 1 \(lines); touch \(directory)/printed; \(after)"]
            drain: {timeout: 1s}
            platforms:
              telegram: {token_file: \(directory)/token, api_base: "\(server.baseURL)", poll_timeout: 1s}
            state_dir: \(directory)/state
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    private func waitForFile(_ path: String) -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while access(path, F_OK) != 0 {
            if ContinuousClock.now > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    @Test("Telegram not answering and a 100-line answer backed up in its chat's lane: SIGTERM still ends the process (the turn waiting for room is cancelled by the drain)",
          .ownThread)
    func stopWithBackedUpLane() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-telegram-lanes")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try commandAgentConfig(server, directory, lines: 100, after: "sleep 60")
        let log = directory + "/gatewayd.log"
        server.holdSends(true)
        let daemon = try startDaemon(config: config, directory: directory, log: log)
        server.post("long answer please")
        #expect(server.waitForCalls { $0.contains { $0.method == "sendMessage" } })
        #expect(waitForFile(directory + "/printed"))
        let started = ContinuousClock.now
        kill(daemon.pid, SIGTERM)
        let exited = waitForExit(of: daemon.pid, timeout: .seconds(20))
        let took = ContinuousClock.now - started
        if !exited { kill(daemon.pid, SIGKILL) }
        _ = daemon.wait()
        server.holdSends(false)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(exited, "still running \(took) after SIGTERM (drain timeout 1 s, flush margin 5 s); log: \(text.suffix(3000))")
    }

    @Test("stopped while Telegram holds the first of ten replies: after the restart all ten arrive in order, only the first marked as a possible repeat",
          .ownThread)
    func laneBacklogComesBackUnmarked() async throws {
        let server = try FakeTelegramServer()
        defer { server.stop() }
        let directory = makeTemporaryDirectory("gatewayd-telegram-mark")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try commandAgentConfig(server, directory, lines: 10, after: "true")
        let log = directory + "/gatewayd.log"
        server.holdSends(true)
        let first = try startDaemon(config: config, directory: directory, log: log)
        server.post("ten lines please")
        #expect(server.waitForCalls { $0.contains { $0.method == "sendMessage" } })
        #expect(waitForFile(directory + "/printed"))
        kill(first.pid, SIGTERM)
        #expect(waitForExit(of: first.pid, timeout: .seconds(30)))
        _ = first.wait()
        server.holdSends(false)
        #expect(server.sent.isEmpty)

        let second = try startDaemon(config: config, directory: directory, log: log)
        let all = server.waitForSent { sent in sent.contains { $0.text.hasSuffix("line 10") } }
        kill(second.pid, SIGTERM)
        #expect(waitForExit(of: second.pid, timeout: .seconds(30)))
        _ = second.wait()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(all, "\(server.sent); log: \(text.suffix(3000))")
        #expect(server.sent.map(\.text) == [GatewayText.possibleRepeat + "line 1"] + (2...10).map { "line \($0)" }, "\(server.sent)")
    }
}
