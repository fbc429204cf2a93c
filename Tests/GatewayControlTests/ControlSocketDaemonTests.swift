import Foundation
import GatewayTestSupport
import JSON
import Testing
import Varlink
import VarlinkClient
import VarlinkProtocol

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

    /// gatewayd on a socket in a fresh directory (owned by `user`), with `yaml`; returns once it
    /// is ready, with what it logged so far.
    static func startDaemon(_ yaml: String, as user: String? = nil) async throws -> (TestChild, directory: String, socket: String, log: String) {
        let directory = makeTemporaryDirectory("gatewayd-socket")
        if user != nil { chown(directory, 65534, 65534) }
        chmod(directory, 0o755)
        let socket = directory + "/run/control"
        try (yaml + "\nstate_dir: \(directory)/state\n").write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        let prefix = user.map { ["/usr/bin/setpriv", "--reuid=\($0)", "--regid=nogroup", "--clear-groups"] } ?? []
        let daemon = try TestChild(prefix + [TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml",
                                             "--socket", socket, "--log-target", "console"],
                                   environment: environment(with: [:]), standardOutput: .null)
        let log = try await onThread { Self.read(daemon.standardError, until: " ready", timeout: .seconds(30)) }
        return (daemon, directory, socket, log)
    }

    static func fileStatus(_ path: String) -> stat {
        var info = stat()
        lstat(path, &info)
        return info
    }

    @Test("run as a user outside admin_group, gatewayd warns why the group was not applied and serves on mode 0660",
          .enabled(if: geteuid() == 0, "needs root to run gatewayd as nobody"))
    func groupNotApplied() async throws {
        let (daemon, directory, socket, log) = try await Self.startDaemon(#"control: {admin_group: adm, socket_mode: "0660"}"#, as: "nobody")
        defer {
            kill(daemon.pid, SIGKILL)
            daemon.wait()
            try? FileManager.default.removeItem(atPath: directory)
        }
        #expect(log.contains(" ready"), "gatewayd did not start: \(log)")
        #expect(log.contains("cannot give it group adm (Operation not permitted)"), "\(log)")
        #expect(log.contains("must be a member of adm"))
        #expect(Self.fileStatus(socket).st_mode & 0o7777 == 0o660)
        #expect(Self.fileStatus(socket).st_gid == 65534, "the daemon's own group")
        let reply = try await onThread {
            try VarlinkConnection(path: socket, timeout: .seconds(30)).call(VarlinkCall(method: "io.gatewayd.Gateway.GetStatus"))
        }
        #expect(reply.parameters["status"]?.object?["state"] == "running")
        // Root (this process: the daemon's parent, not one of its children) may steer an
        // unprivileged daemon, which cannot signal root's processes (its pidfd check says EPERM).
        let resumed = try await onThread {
            try VarlinkConnection(path: socket, timeout: .seconds(30)).call(VarlinkCall(method: "io.gatewayd.Gateway.Resume"))
        }
        #expect(resumed.error == nil, "\(resumed)")
        kill(daemon.pid, SIGTERM)
        #expect(try await onThread { daemon.wait() } == 0)
    }

    @Test("a reload that changes admin_group gives the socket the new group",
          .enabled(if: geteuid() == 0, "needs root to give the socket any group"))
    func groupFollowsReload() async throws {
        let (daemon, directory, socket, log) = try await Self.startDaemon("control: {admin_group: adm}")
        defer {
            kill(daemon.pid, SIGKILL)
            daemon.wait()
            try? FileManager.default.removeItem(atPath: directory)
        }
        #expect(log.contains(" ready"), "gatewayd did not start: \(log)")
        #expect(Self.fileStatus(socket).st_gid == 4)
        try "control: {admin_group: staff}\nstate_dir: \(directory)/state\n".write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        let reloaded = try await onThread { Self.read(daemon.standardError, until: "configuration reloaded", timeout: .seconds(30)) }
        #expect(reloaded.contains("configuration reloaded"), "\(reloaded)")
        #expect(Self.fileStatus(socket).st_gid == 50, "members of the new admin group can open the socket")
        #expect(Self.fileStatus(socket).st_mode & 0o7777 == 0o660)
        kill(daemon.pid, SIGTERM)
        #expect(try await onThread { daemon.wait() } == 0)
    }
}
