import CGatewayShims
import CGatewayTestShims
import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

/// A stop at any moment of the start, as `systemctl stop` right after `start` sends it: the
/// built gatewayd, SIGTERM'd a few milliseconds after exec, drains and exits 0 with STOPPING=1
/// said, never dying of the signal (before, its async main left the main thread in Dispatch's
/// `sigsuspend` with no signal blocked: a TERM before READY=1 killed it).
///
/// One window is beyond any code of gatewayd's: between exec and the first instruction of
/// `main`, the dynamic loader maps and relocates the libraries (≈3 ms for the debug build here,
/// more on a loaded machine), and a TERM then takes its default action. A run whose TERM came
/// before `main` had blocked it (the main thread's `SigBlk`, read just before the kill, says
/// so; the bit is only ever set) is counted apart; every other run must drain and exit 0.
@Suite("SIGTERM while gatewayd starts", .timeLimit(.minutes(3)), .ownThread, .serialized)
struct EarlyStopTests {
    static let runsPerDelay = 20

    @Test("SIGTERM 0, 1, 5 or 20 ms after exec: exit 0 and STOPPING=1, every time",
          arguments: [0, 1, 5, 20])
    func stopDuringStart(delayMilliseconds: Int) throws {
        let directory = makeTemporaryDirectory("gatewayd-early-stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/gatewayd.yaml"
        try "quick_commands:\n  up: {type: exec, command: \"echo up\"}\n".write(toFile: config, atomically: true, encoding: .utf8)
        var failures: [String] = []
        var beforeMain = 0
        for run in 0..<Self.runsPerDelay {
            let outcome = try Self.stopOnce(config: config, directory: directory + "/\(run)", after: .milliseconds(delayMilliseconds))
            if !outcome.reachedMain {
                beforeMain += 1
            } else if outcome.status != 0 || !outcome.stoppingSaid {
                failures.append("run \(run): status \(outcome.status) (\(outcome.status > 128 ? "signal \(outcome.status - 128)" : "exit")), STOPPING=1 \(outcome.stoppingSaid ? "said" : "not said"): \(outcome.log.suffix(400))")
            }
        }
        print("SIGTERM \(delayMilliseconds) ms after exec: \(Self.runsPerDelay - beforeMain) run(s) past main, \(beforeMain) in the loader's window")
        #expect(failures.isEmpty, "\(failures.count) of \(Self.runsPerDelay) runs at \(delayMilliseconds) ms:\n\(failures.joined(separator: "\n"))")
    }

    /// The moment the fixed delays above can miss on a loaded machine (all twenty 20 ms runs were
    /// still in the loader once in CI): TERM as soon as the main thread has the signals blocked
    /// (seen in `/proc`; the .preinit_array block sets it, before any library's initialiser). A
    /// gatewayd that never blocks the signals fails here (no run reaches that point).
    @Test("SIGTERM just after the signals were blocked: exit 0 and STOPPING=1, every time")
    func stopJustAfterSignalsBlocked() throws {
        let directory = makeTemporaryDirectory("gatewayd-early-stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/gatewayd.yaml"
        try "quick_commands:\n  up: {type: exec, command: \"echo up\"}\n".write(toFile: config, atomically: true, encoding: .utf8)
        var failures: [String] = []
        for run in 0..<Self.runsPerDelay {
            let outcome = try Self.stopOnce(config: config, directory: directory + "/\(run)", after: nil)
            if !outcome.reachedMain {
                failures.append("run \(run): the main thread never had SIGTERM blocked (within 30 s)")
            } else if outcome.status != 0 || !outcome.stoppingSaid {
                failures.append("run \(run): status \(outcome.status), STOPPING=1 \(outcome.stoppingSaid ? "said" : "not said"): \(outcome.log.suffix(400))")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.runsPerDelay) runs:\n\(failures.joined(separator: "\n"))")
    }

    /// The window before `main` that no delay hits reliably: a SIGTERM raised by a shared
    /// library's initialiser (preloaded), after the loader relocated and before the Swift
    /// runtime's and the executable's constructors. Only a block from `.preinit_array` covers it;
    /// a constructor of the executable runs after every library's initialiser (this run was
    /// killed by the signal with one), and `main` later still.
    @Test("SIGTERM from a library's initialiser, before main: exit 0 and STOPPING=1",
          .enabled(if: Sanitizer.active == nil, "an uninstrumented library preloaded into a sanitized process"))
    func stopFromALibraryInitialiser() throws {
        let library = TestPaths.product("libgatewayd-test-early-term.so")
        try #require(FileManager.default.fileExists(atPath: library), "\(library) not built")
        let directory = makeTemporaryDirectory("gatewayd-early-stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/gatewayd.yaml"
        try "quick_commands:\n  up: {type: exec, command: \"echo up\"}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let notify = directory + "/notify.sock"
        let fd = gw_unix_bind(notify, 0)
        try #require(fd >= 0, "bind \(notify): errno \(errno)")
        defer { close(fd) }
        let argv = [TestPaths.product("gatewayd"), "--config", config, "--socket", directory + "/control",
                    "--state-dir", directory + "/state", "--log-target", "console"]
        let child = try TestChild(argv, environment: environment(with: ["NOTIFY_SOCKET": notify, "LD_PRELOAD": library,
                                                                         "GATEWAYD_TEST_EARLY_TERM": "1"]),
                                  standardOutput: .null, standardError: .pipe)
        let log = String(decoding: child.readToEnd().standardError, as: UTF8.self)
        let status = child.wait()
        var said: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            said += String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").map(String.init)
        }
        #expect(status == 0, "status \(status) (\(status > 128 ? "signal \(status - 128)" : "exit")): \(log.suffix(400))")
        #expect(said.contains("STOPPING=1"), "\(said): \(log.suffix(400))")
    }

    @Test("SIGTERM while the start waits for IRC to register: the wait is cut short, then STOPPING=1 and exit 0")
    func stopWhileWaitingForPlatform() throws {
        let directory = makeTemporaryDirectory("gatewayd-early-stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // An IRC server that accepts and never speaks: the start waits (5 s at most) for the
        // adapter to register before READY=1.
        let listener = try LoopbackListener(port: freeLoopbackPort())
        let port = listener.port
        let config = directory + "/gatewayd.yaml"
        try "platforms:\n  irc: {server: \"127.0.0.1:\(port)\", nick: gatewayd}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let notify = directory + "/notify.sock"
        let fd = gw_unix_bind(notify, 0)
        try #require(fd >= 0)
        defer { close(fd) }
        let child = try TestChild([TestPaths.product("gatewayd"), "--config", config, "--socket", directory + "/control",
                                   "--state-dir", directory + "/state", "--log-target", "console"],
                                  environment: environment(with: ["NOTIFY_SOCKET": notify]), standardOutput: .null, standardError: .pipe)
        let connection = listener.accept(timeout: .seconds(30)) ?? -1
        let connected = connection >= 0
        defer { if connection >= 0 { close(connection) } }
        let stopped = ContinuousClock.now
        kill(child.pid, SIGTERM)
        let log = String(decoding: child.readToEnd().standardError, as: UTF8.self)
        let status = child.wait()
        let took = ContinuousClock.now - stopped
        var said: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            said += String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").map(String.init)
        }
        #expect(connected, "gatewayd never connected to the IRC server")
        #expect(status == 0, "\(log)")
        #expect(said.contains("STOPPING=1"), "\(said)")
        #expect(took < GatewayConstants.platformReadyWait, "the stop waited \(took) for the platform: \(log)")
    }

    /// One gatewayd, TERM'd `delay` after `posix_spawn` returned (the child has exec'd by then), or
    /// with no delay, as soon as its main thread blocks SIGTERM (30 s at most).
    static func stopOnce(config: String, directory: String, after delay: Duration?)
        throws -> (status: Int32, stoppingSaid: Bool, reachedMain: Bool, log: String)
    {
        mkdir(directory, 0o700)
        let notify = directory + "/notify.sock"
        let fd = gw_unix_bind(notify, 0)
        guard fd >= 0 else { throw ForegroundDaemon.NotReady(description: "bind \(notify): errno \(errno)") }
        defer { close(fd); unlink(notify) }
        let argv = [TestPaths.product("gatewayd"), "--config", config, "--socket", directory + "/control",
                    "--state-dir", directory + "/state", "--log-target", "console"]
        let child = try TestChild(argv, environment: environment(with: ["NOTIFY_SOCKET": notify]),
                                  standardOutput: .null, standardError: .pipe)
        let reachedMain: Bool
        if let delay {
            let spawned = gw_monotonic_nsec()
            let due = spawned + UInt64(delay.components.seconds) * 1_000_000_000 + UInt64(delay.components.attoseconds / 1_000_000_000)
            // Asleep to within 200 µs of it (not spinning on a loaded machine), then to the dot.
            if due > gw_monotonic_nsec() + 200_000 {
                usleep(useconds_t((due - gw_monotonic_nsec() - 200_000) / 1000))
            }
            while gw_monotonic_nsec() < due {}
            reachedMain = mainBlocksTerm(child.pid)
        } else {
            let deadline = ContinuousClock.now + .seconds(30)
            var blocked = mainBlocksTerm(child.pid)
            while !blocked && ContinuousClock.now < deadline {
                sched_yield()
                blocked = mainBlocksTerm(child.pid)
            }
            reachedMain = blocked
        }
        kill(child.pid, SIGTERM)
        let log = String(decoding: child.readToEnd().standardError, as: UTF8.self)
        let status = child.wait()
        // Every datagram it sent is queued on the socket by now.
        var stopping = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            if String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").contains("STOPPING=1") { stopping = true }
        }
        return (status, stopping, reachedMain, log)
    }

    /// Whether the process's main thread blocks SIGTERM (`SigBlk` in its status).
    static func mainBlocksTerm(_ pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
              let mask = UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << (UInt64(SIGTERM) - 1)) != 0
    }
}
