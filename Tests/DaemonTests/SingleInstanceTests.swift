import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

/// One gatewayd per state directory and per control socket, with the built daemon: a second one
/// exits 78 at once (before READY=1, before it binds anything), naming the first one's PID and
/// the path; the first serves on; a first one killed with SIGKILL leaves nothing that blocks
/// the next start.
@Suite("One instance per state directory", .timeLimit(.minutes(2)), .ownThread)
struct SingleInstanceTests {
    /// A scratch directory with a config file and gatewayctl against a socket in it.
    struct Setup {
        let directory = makeTemporaryDirectory("gatewayd-instance")
        var config: String { directory + "/gatewayd.yaml" }

        init() throws {
            try """
                quick_commands:
                  up: {type: exec, command: "echo up"}
                  hold: {type: exec, command: 'echo go > "$1"; read line < "$2"', args: pass}
                """.write(toFile: config, atomically: true, encoding: .utf8)
        }

        func arguments(socket: String, stateDirectory: String) -> [String] {
            [TestPaths.product("gatewayd"), "--config", config, "--socket", socket, "--state-dir", stateDirectory,
             "--log-target", "console"]
        }

        /// A daemon up to READY=1.
        func start(socket: String, stateDirectory: String) throws -> ForegroundDaemon {
            try ForegroundDaemon(arguments(socket: socket, stateDirectory: stateDirectory), environment: environment(with: [:]),
                                 directory: directory)
        }

        /// A daemon that is expected to give up: its exit status, its log and how long it ran
        /// (nil status when it was still running after 30 s, and was killed).
        func startRefused(socket: String, stateDirectory: String) throws -> (status: Int32?, log: String, elapsed: Duration) {
            let began = ContinuousClock.now
            let child = try TestChild(arguments(socket: socket, stateDirectory: stateDirectory), environment: environment(with: [:]),
                                      standardOutput: .null, standardError: .pipe)
            let exited = waitForExit(of: child.pid, timeout: .seconds(30))
            let elapsed = ContinuousClock.now - began
            if !exited { kill(child.pid, SIGKILL) }
            let log = String(decoding: child.readToEnd().standardError, as: UTF8.self)
            let status = child.wait()
            return (exited ? status : nil, log, elapsed)
        }

        func ctl(_ socket: String, _ arguments: [String]) throws -> ProcessOutput {
            try run([TestPaths.product("gatewayctl"), "--socket", socket] + arguments)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test("same state directory, another socket: the second exits 78 at once naming the first's PID and the path; the first serves on")
    func sameStateDirectory() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let state = setup.directory + "/state", first = setup.directory + "/first", second = setup.directory + "/second"
        let daemon = try setup.start(socket: first, stateDirectory: state)
        let refused = try setup.startRefused(socket: second, stateDirectory: state)
        let check = try run([TestPaths.product("gatewayd"), "--check-config", "--config", setup.config, "--state-dir", state])
        let status = try setup.ctl(first, ["status"])
        let quick = try setup.ctl(first, ["quick", "run", "up"])
        let (exit, log) = daemon.stop()
        print("second gatewayd on one state directory: exit \(refused.status.map(String.init) ?? "none") after \(refused.elapsed)")
        #expect(refused.status == GatewayConstants.ExitStatus.configInvalid, "\(refused.log)")
        #expect(refused.elapsed < .seconds(10), "it gives up at once, it does not wait for anything")
        #expect(refused.log.contains("PID \(daemon.process.pid)"), "\(refused.log)")
        #expect(refused.log.contains(state + "/gatewayd.lock"), "\(refused.log)")
        #expect(!refused.log.contains("gatewayd \(GatewayConstants.version) ready"), "\(refused.log)")
        #expect(access(second, F_OK) != 0, "it bound nothing")
        #expect(check.status == 0, "--check-config takes no lock: \(check.standardOutput)")
        #expect(status.status == 0 && status.standardOutput.hasPrefix("● gatewayd — running"), "\(status.standardOutput)")
        #expect(!status.standardOutput.contains("Durable: NO"), "\(status.standardOutput)")
        #expect(quick.standardOutput == "up\n")
        #expect(exit == 0, "\(log)")
    }

    @Test("same control socket, another state directory: the second exits 78 naming the first's PID and the socket")
    func sameSocket() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let socket = setup.directory + "/control"
        let daemon = try setup.start(socket: socket, stateDirectory: setup.directory + "/first")
        let refused = try setup.startRefused(socket: socket, stateDirectory: setup.directory + "/second")
        let status = try setup.ctl(socket, ["status"])
        let (exit, log) = daemon.stop()
        print("second gatewayd on one control socket: exit \(refused.status.map(String.init) ?? "none") after \(refused.elapsed)")
        #expect(refused.status == GatewayConstants.ExitStatus.configInvalid, "\(refused.log)")
        #expect(refused.elapsed < .seconds(10))
        #expect(refused.log.contains("PID \(daemon.process.pid)"), "\(refused.log)")
        #expect(refused.log.contains(socket), "\(refused.log)")
        #expect(access(setup.directory + "/second/state.db", F_OK) != 0, "it opened no store")
        #expect(status.status == 0, "\(status.standardError)")
        #expect(exit == 0, "\(log)")
    }

    @Test("the socket taken by another gatewayd while this one waited for IRC to register: exit 78 (not 1), naming the one that took it")
    func socketTakenDuringStart() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let socket = setup.directory + "/control"
        // An IRC server that accepts and never speaks: the start waits (5 s at most) for the
        // adapter to register, past the instance check and before it binds the socket.
        let server = try SilentListener()
        let waiting = setup.directory + "/irc.yaml"
        try "platforms:\n  irc: {server: \"127.0.0.1:\(server.port)\", nick: gatewayd}\n".write(toFile: waiting, atomically: true, encoding: .utf8)
        let late = try TestChild([TestPaths.product("gatewayd"), "--config", waiting, "--socket", socket, "--state-dir", setup.directory + "/late",
                                  "--log-target", "console"],
                                 environment: environment(with: [:]), standardOutput: .null, standardError: .pipe)
        let connection = server.accept(timeout: .seconds(30))
        defer { if connection >= 0 { close(connection) } }
        let daemon = try setup.start(socket: socket, stateDirectory: setup.directory + "/first")
        let exited = waitForExit(of: late.pid, timeout: .seconds(30))
        if !exited { kill(late.pid, SIGKILL) }
        let log = String(decoding: late.readToEnd().standardError, as: UTF8.self)
        let status = late.wait()
        let served = try setup.ctl(socket, ["status"])
        let (exit, firstLog) = daemon.stop()
        #expect(connection >= 0, "the late one connected to IRC")
        #expect(exited && status == GatewayConstants.ExitStatus.configInvalid, "status \(status): \(log)")
        #expect(log.contains("PID \(daemon.process.pid)") && log.contains(socket), "\(log)")
        #expect(served.status == 0, "the first serves on: \(served.standardError)")
        #expect(exit == 0, "\(firstLog)")
    }

    @Test("a second one that may read the state directory but not write it (another unit's, under ProtectSystem=strict): still 78 naming the first",
          .enabled(if: geteuid() == 0, "needs root to run the second daemon as another user"))
    func readOnlyView() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let state = setup.directory + "/state", own = setup.directory + "/nobody"
        let daemon = try setup.start(socket: setup.directory + "/control", stateDirectory: state)
        // Readable by all, writable by root only: nobody opens the lock file read-only at best.
        for path in [setup.directory, state] { chmod(path, 0o755) }
        chmod(setup.config, 0o644)
        chmod(state + "/gatewayd.lock", 0o644)
        mkdir(own, 0o755)
        chown(own, 65534, 65534)
        let began = ContinuousClock.now
        let second = try TestChild(["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
                                       + setup.arguments(socket: own + "/control", stateDirectory: state),
                                   environment: environment(with: [:]), standardOutput: .null, standardError: .pipe)
        let exited = waitForExit(of: second.pid, timeout: .seconds(30))
        if !exited { kill(second.pid, SIGKILL) }
        let log = String(decoding: second.readToEnd().standardError, as: UTF8.self)
        let status = second.wait()
        let elapsed = ContinuousClock.now - began
        let (exit, firstLog) = daemon.stop()
        #expect(exited && status == GatewayConstants.ExitStatus.configInvalid, "status \(status) after \(elapsed): \(log)")
        #expect(log.contains("PID \(daemon.process.pid)") && log.contains(state + "/gatewayd.lock"), "\(log)")
        #expect(access(own + "/control", F_OK) != 0, "it bound nothing")
        #expect(exit == 0, "\(firstLog)")
    }

    @Test("the first killed with SIGKILL while its quick command runs on: the lock file and socket file stay behind, and a new one starts on both")
    func staleAfterKill() async throws {
        let setup = try Setup()
        defer { setup.remove() }
        let state = setup.directory + "/state", socket = setup.directory + "/control"
        let killed = try setup.start(socket: socket, stateDirectory: state)
        // A quick command that outlives the daemon (its own process group): it must not hold
        // the lock on (the file is close-on-exec, and only fds 0-2 reach a child).
        let started = FIFOSignal(), gate = FIFOSignal()
        defer { gate.send("release") }
        let client = try TestChild([TestPaths.product("gatewayctl"), "--socket", socket, "quick", "run", "hold", started.path, gate.path],
                                   standardOutput: .null, standardError: .null)
        #expect(await started.waitForLine() == "go")
        kill(killed.process.pid, SIGKILL)
        _ = killed.process.readToEnd()
        #expect(killed.process.wait() == 128 + SIGKILL)
        _ = client.wait()
        #expect(access(state + "/gatewayd.lock", F_OK) == 0 && access(socket, F_OK) == 0, "both files outlive it")
        let daemon = try setup.start(socket: socket, stateDirectory: state)
        let holder = try String(contentsOfFile: state + "/gatewayd.lock", encoding: .utf8)
        let status = try setup.ctl(socket, ["status"])
        let (exit, log) = daemon.stop()
        #expect(holder == "\(daemon.process.pid)\n")
        #expect(status.status == 0, "\(status.standardError)")
        #expect(exit == 0, "\(log)")
    }

    @Test("a state directory whose lock cannot be taken: it serves without durability, and says why")
    func unlockable() throws {
        let setup = try Setup()
        defer { setup.remove() }
        let socket = setup.directory + "/control"
        // Below a regular file: neither the directory nor the lock file can exist.
        let daemon = try setup.start(socket: socket, stateDirectory: setup.config + "/state")
        let status = try setup.ctl(socket, ["status"])
        let quick = try setup.ctl(socket, ["quick", "run", "up"])
        let (exit, log) = daemon.stop()
        #expect(status.standardOutput.contains("Durable: NO"), "\(status.standardOutput)")
        #expect(status.standardOutput.contains("cannot lock \(setup.config)/state/gatewayd.lock"), "\(status.standardOutput)")
        #expect(quick.standardOutput == "up\n")
        #expect(exit == 0, "\(log)")
    }
}

/// A TCP listener on 127.0.0.1 that accepts and never says anything (an IRC server that does
/// not let the gateway register).
private final class SilentListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 8) == 0 else { throw ListenFailed(errno: errno) }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    struct ListenFailed: Error { let errno: Int32 }

    /// The next connection, or -1 when none came within `timeout`.
    func accept(timeout: Duration) -> Int32 {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout.components.seconds * 1000)) == 1 else { return -1 }
        return Glibc.accept(fd, nil, nil)
    }
}
