import Foundation
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A reload refuses what a start refuses (issue 21.7's "check and start agree", on the reload
/// path): otherwise the next restart, not the reload, finds the file bad, and exits 78 for good.
@Suite("Reload runs the start's check", .timeLimit(.minutes(1)), .ownThread)
struct ReloadCheckTests {
    @Test("a file gone, or a platform section only the adapter rejects: reload refused, the old configuration serves on")
    func refused() throws {
        let directory = makeTemporaryDirectory("gatewayd-reload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/gatewayd.yaml", socket = directory + "/control"
        let good = """
            platforms: {local: {enabled: false}}
            quick_commands:
              up: {type: exec, command: "echo old config"}
            """
        try good.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try ForegroundDaemon(
            [TestPaths.product("gatewayd"), "--config", config, "--socket", socket, "--state-dir", directory + "/state", "--log-target", "console"],
            environment: environment(with: [:]), directory: directory)
        func ctl(_ arguments: [String]) throws -> ProcessOutput {
            try run([TestPaths.product("gatewayctl"), "--socket", socket] + arguments)
        }
        // An IRC section the loader reads but the adapter refuses (its server is no host:port).
        try """
            platforms:
              local: {enabled: false}
              irc: {server: nonsense, nick: gatewayd}
            quick_commands:
              up: {type: exec, command: "echo new config"}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let badPlatform = try ctl(["reload"])
        // Empty (an editor's truncate-then-write caught in between): refused, not the defaults.
        try "# only a comment\n".write(toFile: config, atomically: true, encoding: .utf8)
        let empty = try ctl(["reload"])
        try FileManager.default.removeItem(atPath: config)
        let gone = try ctl(["reload"])
        let quick = try ctl(["quick", "run", "up"])
        let send = try ctl(["send", "hello"])
        let (exit, log) = daemon.stop()
        #expect(badPlatform.status == 1, "\(badPlatform.standardOutput)")
        #expect(badPlatform.standardError.contains("platforms.irc.server"), "\(badPlatform.standardError)")
        #expect(empty.status == 1, "\(empty.standardOutput)")
        #expect(empty.standardError.contains("holds no settings"), "\(empty.standardError)")
        #expect(gone.status == 1)
        #expect(gone.standardError.contains("no such file"), "\(gone.standardError)")
        #expect(quick.standardOutput == "old config\n", "the old quick commands stay")
        #expect(send.status == 1, "the old file's platforms.local.enabled: false stays, not the defaults")
        #expect(exit == 0, "\(log)")
        #expect(!log.contains("built-in defaults"), "\(log)")
    }

    /// A SIGHUP during a stop was ignored, but `gatewayctl reload` was applied: it replaced
    /// adapters in the drain (cutting their requests in flight), could start new ones after the
    /// shutdown had stopped them, and sent RELOADING=1 and READY=1 after STOPPING=1.
    @Test("gatewayctl reload while the gateway stops: refused (exit 1, the reason), nothing applied, the stop goes on")
    func refusedWhileStopping() async throws {
        let directory = makeTemporaryDirectory("gatewayd-reload-stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/gatewayd.yaml", socket = directory + "/control"
        let started = FIFOSignal(), gate = FIFOSignal()
        try """
            read -r line
            echo started > \(started.path); read go < \(gate.path); echo "done"
            """.write(toFile: directory + "/agent.sh", atomically: true, encoding: .utf8)
        func write(_ word: String) throws {
            try """
                agent: {backend: command, command: ["/bin/sh", "\(directory)/agent.sh"]}
                drain: {timeout: 60s}
                quick_commands:
                  up: {type: exec, command: "echo \(word)"}
                """.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write("old")
        let daemon = try ForegroundDaemon(
            [TestPaths.product("gatewayd"), "--config", config, "--socket", socket, "--state-dir", directory + "/state", "--log-target", "console"],
            environment: environment(with: [:]), directory: directory)
        func ctl(_ arguments: [String]) throws -> ProcessOutput {
            try run([TestPaths.product("gatewayctl"), "--socket", socket] + arguments)
        }
        let held = try TestChild([TestPaths.product("gatewayctl"), "--socket", socket, "send", "hold"], standardOutput: .pipe, standardError: .pipe)
        #expect(await started.waitForLine() == "started")
        kill(daemon.process.pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(30)
        var state = ""
        while ContinuousClock.now < deadline {
            state = try ctl(["status"]).standardOutput
            if state.contains("draining (stop)") { break }
        }
        #expect(state.contains("draining (stop)"), "\(state)")
        try write("new")
        let reload = try ctl(["reload"])
        #expect(reload.status == 1, "\(reload.standardOutput) \(reload.standardError)")
        #expect(reload.standardError.contains("the gateway is shutting down: nothing was reloaded"), "\(reload.standardError)")
        #expect(try ctl(["status"]).standardOutput.contains("draining (stop)"), "still stopping")
        gate.send("go")
        _ = held.readToEnd()
        _ = held.wait()
        let log = String(decoding: daemon.process.readToEnd().standardError, as: UTF8.self)
        #expect(daemon.process.wait() == 0, "\(log)")
        #expect(!log.contains("configuration reloaded"), "\(log)")
    }
}
