import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

/// The README's "Try it", as a normal user would type it: no root, no systemd, nothing set but
/// the usual session variables.
@Suite("The README's first run", .timeLimit(.minutes(1)), .ownThread,
       .enabled(if: geteuid() == 0, "needs root to run the daemon as another (normal) user"))
struct FirstRunTests {
    @Test("gatewayd --config contrib/first-run.yaml as a normal user: per-user socket and state, and gatewayctl finds it")
    func firstRun() throws {
        let home = makeTemporaryDirectory("gatewayd-first-run")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let runtime = home + "/run"
        mkdir(runtime, 0o700)
        chown(home, 65534, 65534)
        chown(runtime, 65534, 65534)
        let session = ["HOME": home, "XDG_RUNTIME_DIR": runtime, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
        let asUser = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        let daemon = try ForegroundDaemon(asUser + [TestPaths.product("gatewayd"), "--config", TestPaths.packageRoot + "/contrib/first-run.yaml"],
                                          environment: session, directory: home)
        func ctl(_ arguments: [String]) throws -> ProcessOutput {
            try run(asUser + [TestPaths.product("gatewayctl")] + arguments, environment: session)
        }
        let status = try ctl(["status"])
        let uptime = try ctl(["quick", "run", "uptime"])
        let hello = try ctl(["send", "hello"])
        let alias = try ctl(["send", "/st"])
        let (exit, logs) = daemon.stop()
        #expect(exit == 0, "\(logs)")
        #expect(status.status == 0, "\(status.standardError)")
        #expect(status.standardOutput.hasPrefix("● gatewayd — running"))
        #expect(!status.standardOutput.contains("Durable: NO"), "\(status.standardOutput)")
        #expect(uptime.status == 0, "\(uptime.standardError)")
        #expect(uptime.standardOutput.contains("load average"))
        #expect(hello.standardOutput == "echo: hello\n")
        #expect(alias.standardOutput.hasPrefix("gatewayd \(GatewayConstants.version): running"), "\(alias.standardOutput)")
        #expect(FileManager.default.fileExists(atPath: home + "/.local/state/gatewayd/state.db"))
        #expect(logs.contains(runtime + "/gatewayd/control"), "the log names where the socket is")
    }
}
