import Foundation
import GatewayTestSupport
import Testing
import Varlink

/// The control socket as the real gatewayd binds it.
@Suite("gatewayd's control socket", .timeLimit(.minutes(1)))
struct ControlSocketDaemonTests {
    /// Reads `fd` until its text contains `marker` or `timeout` passes; all that was read.
    static func read(_ fd: Int32, until marker: String, timeout: Duration) -> String {
        let deadline = ContinuousClock.now + timeout
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !text.contains(marker) && ContinuousClock.now < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) == 1 else { continue }
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        return text
    }

    @Test("run as a user outside admin_group, gatewayd warns why the group was not applied and serves on mode 0660",
          .enabled(if: geteuid() == 0, "needs root to run gatewayd as nobody"))
    func groupNotApplied() async throws {
        let directory = makeTemporaryDirectory("gatewayd-socket")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chown(directory, 65534, 65534)
        chmod(directory, 0o755)
        let socket = directory + "/run/control"
        try """
            control: {admin_group: adm, socket_mode: "0660"}
            state_dir: \(directory)/state
            """.write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        let daemon = try TestChild(["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                    TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml", "--socket", socket,
                                    "--log-target", "console"],
                                   environment: environment(with: [:]), standardOutput: .null)
        defer { kill(daemon.pid, SIGKILL); daemon.wait() }
        let log = try await onThread { Self.read(daemon.standardError, until: "ready", timeout: .seconds(30)) }
        #expect(log.contains("ready"), "gatewayd did not start: \(log)")
        #expect(log.contains("cannot give it group adm (Operation not permitted)"), "\(log)")
        #expect(log.contains("must be a member of adm"))
        var info = stat()
        #expect(lstat(socket, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o660)
        #expect(info.st_gid == 65534, "the daemon's own group")
        let reply = try await onThread {
            try VarlinkConnection(path: socket, timeout: .seconds(10)).call(VarlinkCall(method: "io.gatewayd.Gateway.GetStatus"))
        }
        #expect(reply.parameters["status"]?.object?["state"] == "running")
        // Root (this process: the daemon's parent, not one of its children) may steer an
        // unprivileged daemon, which cannot signal root's processes (its pidfd check says EPERM).
        let resumed = try await onThread {
            try VarlinkConnection(path: socket, timeout: .seconds(10)).call(VarlinkCall(method: "io.gatewayd.Gateway.Resume"))
        }
        #expect(resumed.error == nil, "\(resumed)")
        kill(daemon.pid, SIGTERM)
        #expect(try await onThread { daemon.wait() } == 0)
    }
}
