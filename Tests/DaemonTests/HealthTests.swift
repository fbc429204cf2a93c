import Foundation
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `gatewayctl health` against a real gatewayd: 0 ready, 1 alive but not ready (with why), 3 not
/// running or not answering in time.
@Suite("gatewayctl health", .timeLimit(.minutes(1)), .ownThread)
struct HealthTests {
    func start(_ yaml: String, in directory: String, environment extra: [String: String?] = [:]) throws -> ForegroundDaemon {
        try (yaml + "\ncontrol: {socket: \(directory)/control.sock}\nstate_dir: \(directory)/state\n")
            .write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        return try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml", "--log-target", "console"],
                                    environment: environment(with: extra), directory: directory)
    }

    func health(_ directory: String, _ extra: [String] = []) throws -> ProcessOutput {
        try run([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "health"] + extra)
    }

    @Test("ready: 0; draining: 1 naming the drain; a platform that is not up: 1 naming it; stopped: 3")
    func exitCodes() throws {
        let directory = makeTemporaryDirectory("gatewayd-health")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try start("quick_commands: {up: {type: exec, command: uptime}}", in: directory)
        let ready = try health(directory)
        #expect(ready.status == 0, "\(ready.standardOutput) \(ready.standardError)")
        #expect(ready.standardOutput.hasPrefix("ready: running"), "\(ready.standardOutput)")
        _ = try run([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "drain", "--no-wait"])
        let draining = try health(directory, ["--json"])
        #expect(draining.status == 1)
        #expect(draining.standardOutput.contains(#""ready":false"#) && draining.standardOutput.contains("the gateway is draining (admin)"),
                "\(draining.standardOutput)")
        let (exit, _) = daemon.stop()
        #expect(exit == 0)
        let stopped = try health(directory)
        #expect(stopped.status == 3, "\(stopped.standardError)")
    }

    @Test("an IRC server that never answers: alive, not ready, the platform and its state named")
    func platformDown() throws {
        let directory = makeTemporaryDirectory("gatewayd-health-irc")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let silent = try LoopbackListener()
        let daemon = try start("platforms: {irc: {server: \"127.0.0.1:\(silent.port)\", nick: gw}}", in: directory)
        let output = try health(directory)
        #expect(output.status == 1, "\(output.standardOutput) \(output.standardError)")
        #expect(output.standardOutput.contains("platform irc is connecting") || output.standardOutput.contains("platform irc is down"),
                "\(output.standardOutput)")
        _ = daemon.stop()
    }

    @Test("a platform a reload added but could not start: alive, not ready, the platform named as down")
    func platformNotStarted() throws {
        let directory = makeTemporaryDirectory("gatewayd-health-added")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let holder = try LoopbackListener()  // holds a port: the webhook cannot bind it
        try "s3cret\n".write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
        let daemon = try start("", in: directory)
        try ("platforms: {webhook: {listen: \"127.0.0.1:\(holder.port)\", secret_file: \(directory)/secret}}\n"
             + "control: {socket: \(directory)/control.sock}\nstate_dir: \(directory)/state\n")
            .write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        let reload = try run([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "reload"])
        #expect(reload.status == 1, "\(reload.standardOutput) \(reload.standardError)")
        let output = try health(directory)
        #expect(output.status == 1, "\(output.standardOutput) \(output.standardError)")
        #expect(output.standardOutput.contains("platform webhook is down"), "\(output.standardOutput)")
        // Removed from the file: no longer configured, so no longer down.
        try "control: {socket: \(directory)/control.sock}\nstate_dir: \(directory)/state\n"
            .write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        _ = try run([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock", "reload"])
        let ready = try health(directory)
        #expect(ready.status == 0, "\(ready.standardOutput) \(ready.standardError)")
        _ = daemon.stop()
    }

    @Test("a wedged dispatcher: not alive within --within, exit 3")
    func wedged() throws {
        let directory = makeTemporaryDirectory("gatewayd-health-wedged")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try start("", in: directory, environment: ["GATEWAYD_TEST_HOOKS": "1"])
        kill(daemon.process.pid, SIGUSR2)  // test hook: the dispatcher blocks for good
        let started = ContinuousClock.now
        let output = try health(directory, ["--within", "0.5"])
        #expect(output.status == 3, "\(output.standardOutput) \(output.standardError)")
        #expect(output.standardError.contains("not alive"), "\(output.standardError)")
        #expect(ContinuousClock.now - started < .seconds(10))
        kill(daemon.process.pid, SIGKILL)
        _ = daemon.process.wait()
    }
}
