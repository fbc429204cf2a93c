import Foundation
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `metrics.listen` against a real gatewayd: `/metrics`, `/healthz`, `/readyz`, and what a real
/// Prometheus and promtool make of them.
@Suite("metrics listener", .timeLimit(.minutes(2)), .ownThread)
struct MetricsListenerTests {
    /// A loopback port nobody listens on now, below the ephemeral range (a kernel's pick from that
    /// range was once taken by another test's outgoing connection before gatewayd bound it).
    static func freePort() throws -> Int { freeLoopbackPort() }

    struct Daemon {
        let daemon: ForegroundDaemon
        let directory: String
        let port: Int
        var base: String { "http://127.0.0.1:\(port)" }

        func ctl(_ arguments: [String]) throws -> ProcessOutput {
            try run([TestPaths.product("gatewayctl"), "--socket", directory + "/control.sock"] + arguments)
        }
    }

    static func start(_ yaml: String, prefix: String, environment extra: [String: String?] = [:]) throws -> Daemon {
        let directory = makeTemporaryDirectory(prefix)
        let port = try freePort()
        try (yaml + "\nmetrics: {listen: \"127.0.0.1:\(port)\"}\ncontrol: {socket: \(directory)/control.sock}\nstate_dir: \(directory)/state\n")
            .write(toFile: directory + "/gatewayd.yaml", atomically: true, encoding: .utf8)
        let daemon = try ForegroundDaemon([TestPaths.product("gatewayd"), "--config", directory + "/gatewayd.yaml", "--log-target", "console"],
                                          environment: environment(with: extra), directory: directory)
        return Daemon(daemon: daemon, directory: directory, port: port)
    }

    /// Status code and body of one request (curl: a real HTTP client).
    static func get(_ url: String, method: String = "GET", headers: [String] = []) throws -> (status: Int, body: String) {
        let output = try run(["/usr/bin/curl", "-sS", "--max-time", "30", "-X", method, "-w", "\n%{http_code}"]
                             + headers.flatMap { ["-H", $0] } + [url])
        let lines = output.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    @Test("ready: /healthz and /readyz 200; /metrics in the text format; draining: /readyz 503 with why; 404 and 405")
    func endpoints() throws {
        let gateway = try Self.start("quick_commands: {up: {type: exec, command: \"true\"}}", prefix: "gatewayd-metrics")
        defer { _ = gateway.daemon.stop(); try? FileManager.default.removeItem(atPath: gateway.directory) }
        #expect(try Self.get(gateway.base + "/healthz").status == 200)
        let ready = try Self.get(gateway.base + "/readyz")
        #expect(ready.status == 200, "\(ready.body)")
        #expect(try gateway.ctl(["quick", "run", "up"]).status == 0)
        let metrics = try Self.get(gateway.base + "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains(#"gatewayd_exec_runs_total{command="up",outcome="exited_0"} 1"#), "\(metrics.body)")
        #expect(metrics.body.contains("# TYPE gatewayd_messages_total counter"))
        let open = try Self.get(gateway.base + "/metrics", headers: ["Accept: application/openmetrics-text; version=1.0.0"])
        #expect(open.body.hasSuffix("\n# EOF\n"), "\(open.body.suffix(200))")
        #expect(open.body.hasPrefix("# TYPE gatewayd_messages counter\n"), "\(open.body.prefix(200))")
        #expect(try Self.get(gateway.base + "/nope").status == 404)
        #expect(try Self.get(gateway.base + "/metrics", method: "POST").status == 405)
        _ = try gateway.ctl(["drain", "--no-wait"])
        let draining = try Self.get(gateway.base + "/readyz")
        #expect(draining.status == 503)
        #expect(draining.body.contains("the gateway is draining (admin)"), "\(draining.body)")
        #expect(try Self.get(gateway.base + "/healthz").status == 200)
    }

    @Test("an IRC server that never answers: /healthz 200, /readyz 503 naming the platform, platform_connected 0")
    func platformDown() throws {
        let silent = try LoopbackListener()
        let gateway = try Self.start("platforms: {irc: {server: \"127.0.0.1:\(silent.port)\", nick: gw}}", prefix: "gatewayd-metrics-irc")
        defer { _ = gateway.daemon.stop(); try? FileManager.default.removeItem(atPath: gateway.directory) }
        #expect(try Self.get(gateway.base + "/healthz").status == 200)
        let readiness = try Self.get(gateway.base + "/readyz")
        #expect(readiness.status == 503)
        #expect(readiness.body.contains("platform irc is"), "\(readiness.body)")
        #expect(try Self.get(gateway.base + "/metrics").body.contains(#"gatewayd_platform_connected{platform="irc"} 0"#))
    }

    @Test("a wedged dispatcher: /healthz 503 within a few seconds, the listener still answers")
    func wedged() throws {
        let gateway = try Self.start("", prefix: "gatewayd-metrics-wedged", environment: ["GATEWAYD_TEST_HOOKS": "1"])
        defer {
            kill(gateway.daemon.process.pid, SIGKILL)
            _ = gateway.daemon.process.wait()
            try? FileManager.default.removeItem(atPath: gateway.directory)
        }
        #expect(try Self.get(gateway.base + "/healthz").status == 200)
        kill(gateway.daemon.process.pid, SIGUSR2)  // test hook: the dispatcher blocks for good
        let started = ContinuousClock.now
        // The signal reaches the dispatcher a moment later (signalfd, then a task), and nothing
        // tells the test when: a probe before that is answered 200 and proves nothing. Every
        // probe must be answered (the listener is not behind the dispatcher); 503 must come
        // within the bound.
        var health = try Self.get(gateway.base + "/healthz")
        while health.status == 200 && ContinuousClock.now - started < .seconds(10) {
            usleep(50_000)
            health = try Self.get(gateway.base + "/healthz")
        }
        #expect(health.status == 503, "\(health.body)")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("promtool check metrics accepts gatewayctl metrics; --openmetrics ends with # EOF",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "promtool is missing (Debian's prometheus package; .ci/install-deps)"))
    func promtool() throws {
        let gateway = try Self.start("quick_commands: {up: {type: exec, command: \"true\"}, bad: {type: exec, command: \"exit 2\"}}",
                                     prefix: "gatewayd-promtool")
        defer { _ = gateway.daemon.stop(); try? FileManager.default.removeItem(atPath: gateway.directory) }
        _ = try gateway.ctl(["quick", "run", "up"])
        _ = try gateway.ctl(["quick", "run", "bad"])
        _ = try gateway.ctl(["send", "hello"])
        let text = try gateway.ctl(["metrics"])
        #expect(text.status == 0, "\(text.standardError)")
        let file = gateway.directory + "/metrics.txt"
        try text.standardOutput.write(toFile: file, atomically: true, encoding: .utf8)
        let checked = try run(["/bin/sh", "-c", "/usr/bin/promtool check metrics < \"$1\"", "sh", file])
        #expect(checked.status == 0, "promtool: \(checked.standardOutput) \(checked.standardError)")
        let open = try gateway.ctl(["metrics", "--openmetrics"])
        #expect(open.standardOutput.hasSuffix("# EOF\n"))
        #expect(open.standardOutput.contains(#"gatewayd_exec_runs_total{command="bad",outcome="exited_nonzero"} 1"#))
    }

    @Test("a real Prometheus scrapes /metrics; its query API shows the exec counter after quick commands ran",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"), "prometheus is missing (Debian's prometheus package; .ci/install-deps)"))
    func prometheus() throws {
        let gateway = try Self.start("quick_commands: {up: {type: exec, command: \"true\"}}", prefix: "gatewayd-prometheus")
        defer { _ = gateway.daemon.stop(); try? FileManager.default.removeItem(atPath: gateway.directory) }
        let port = try Self.freePort()
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: gatewayd
                static_configs: [{targets: ["127.0.0.1:\(gateway.port)"]}]
            """.write(toFile: gateway.directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let log = try #require(FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: gateway.directory + "/prometheus.log", contents: nil); return gateway.directory + "/prometheus.log" }()))
        let prometheus = try TestChild(["/usr/bin/prometheus", "--config.file=\(gateway.directory)/prometheus.yml",
                                        "--storage.tsdb.path=\(gateway.directory)/tsdb", "--web.listen-address=127.0.0.1:\(port)"],
                                       standardOutput: .null, standardError: .descriptor(log.fileDescriptor))
        defer {
            kill(prometheus.pid, SIGTERM)
            _ = prometheus.wait()
        }
        for _ in 0..<3 { #expect(try gateway.ctl(["quick", "run", "up"]).status == 0) }
        let query = "http://127.0.0.1:\(port)/api/v1/query?query=gatewayd_exec_runs_total%7Bcommand%3D%22up%22%2Coutcome%3D%22exited_0%22%7D"
        let deadline = ContinuousClock.now + .seconds(30)
        var last = ""
        // Polling with a deadline: Prometheus offers nothing to await for "scraped".
        while ContinuousClock.now < deadline {
            last = (try? run(["/usr/bin/curl", "-sS", "--max-time", "5", query]).standardOutput) ?? ""
            if last.contains(#""value":["#) && last.contains(#","3"]"#) { break }
            usleep(200_000)
        }
        #expect(last.contains(#","3"]"#), "Prometheus answered: \(last)\nits log: \((try? String(contentsOfFile: gateway.directory + "/prometheus.log", encoding: .utf8))?.suffix(2000) ?? "")")
    }
}
