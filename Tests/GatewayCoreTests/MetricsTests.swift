import Foundation
import GatewayCore
import GatewayTestSupport
import GatewayWire
import StateStore
import Testing

/// The value of one sample of `families`: `name` plus `suffix`, with exactly `labels`.
func sample(_ families: [Wire.Metric], _ name: String, _ suffix: String? = "_total", _ labels: [String: String] = [:]) -> Double? {
    guard let family = families.first(where: { $0.name == name }) else { return nil }
    return family.samples.first { sample in
        sample.suffix == suffix && Dictionary((sample.labels?.pairs ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }) == labels
    }?.value
}

/// An agent that fails every turn.
struct FailingAgent: AgentBackend {
    func run(_ turn: AgentTurn, reply: @escaping @Sendable (String) async -> Void) async throws -> AgentUsage {
        throw AgentError("the backend is down")
    }
}

/// Each metric family moves when its event happens, through a dispatcher with its own registry.
@Suite("Metrics", .timeLimit(.minutes(1)))
struct MetricsTests {
    let yaml = """
        access:
          allowed_users: ["irc:alice"]
        quick_commands:
          ok: {type: exec, command: "true"}
          fails: {type: exec, command: "exit 3"}
          killed: {type: exec, command: "kill -KILL $$"}
          slow: {type: exec, command: "sleep 30", timeout: 300ms}
          al: {type: alias, target: ok}
          broken: {type: exec, command: ""}
        """

    func families(_ dispatcher: Dispatcher, _ scrape: MetricsScrape = MetricsScrape()) async -> [Wire.Metric] {
        await dispatcher.metricFamilies(scrape)
    }

    @Test("gatewayd_messages: once per message, by platform and route; all six routes shown from the first message on")
    func messagesByRoute() async throws {
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent(), metrics: GatewayMetrics())
        await d.markRunning()
        _ = await send(d, "/status")
        _ = await send(d, "/ok")
        _ = await send(d, "/al")
        _ = await send(d, "hello")
        _ = await send(d, "/queue later")
        _ = await send(d, "/nope")
        _ = await send(d, "/broken")
        _ = await send(d, "hi", user: "mallory", platform: "irc")
        let m = await families(d)
        let name = MetricNames.messages.name
        #expect(sample(m, name, "_total", ["platform": "local", "route": "builtin"]) == 2)  // /status, /queue
        #expect(sample(m, name, "_total", ["platform": "local", "route": "exec"]) == 1)
        #expect(sample(m, name, "_total", ["platform": "local", "route": "alias"]) == 1)
        #expect(sample(m, name, "_total", ["platform": "local", "route": "agent"]) == 1)
        #expect(sample(m, name, "_total", ["platform": "local", "route": "dropped"]) == 2)  // /nope, /broken
        #expect(sample(m, name, "_total", ["platform": "local", "route": "refused"]) == 0)
        #expect(sample(m, name, "_total", ["platform": "irc", "route": "refused"]) == 1)
        #expect(sample(m, name, "_total", ["platform": "irc", "route": "agent"]) == 0)
    }

    @Test("gatewayd_exec_runs by outcome and gatewayd_exec_duration_seconds for the runs that started")
    func execOutcomes() async throws {
        // A command held until the test writes to its FIFO: the one slot stays taken for as long
        // as the test needs, however loaded the machine.
        let directory = makeTemporaryDirectory("gatewayd-metrics-exec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = directory + "/gate"
        mkfifo(gate, 0o600)
        let gateFD = open(gate, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        defer { close(gateFD) }
        var settings = try config(yaml + "\n  held: {type: exec, command: 'read -r _ < \(gate)'}\n")
        settings.exec.maxConcurrent = 1
        let d = Dispatcher(config: settings, agent: EchoAgent(), metrics: GatewayMetrics())
        await d.markRunning()
        _ = await send(d, "/ok")
        _ = await send(d, "/fails")
        _ = await send(d, "/killed")
        _ = await send(d, "/slow")
        // One slot: /ok while /held runs is busy.
        let started = await d.subscribe { if case .quickCommandStarted = $0 { true } else { false } }
        let held = Task { await send(d, "/held") }
        for await _ in started { break }
        #expect(sample(await families(d), MetricNames.execRunning.name, nil) == 1)
        _ = await send(d, "/ok")
        _ = write(gateFD, "go\n", 3)
        _ = await held.value
        let m = await families(d)
        let runs = MetricNames.execRuns.name
        #expect(sample(m, runs, "_total", ["command": "ok", "outcome": "exited_0"]) == 1)
        #expect(sample(m, runs, "_total", ["command": "ok", "outcome": "busy"]) == 1)
        #expect(sample(m, runs, "_total", ["command": "fails", "outcome": "exited_nonzero"]) == 1)
        #expect(sample(m, runs, "_total", ["command": "killed", "outcome": "signaled"]) == 1)
        #expect(sample(m, runs, "_total", ["command": "slow", "outcome": "timed_out"]) == 1)
        #expect(sample(m, runs, "_total", ["command": "held", "outcome": "exited_0"]) == 1)
        #expect(sample(m, runs, "_total", ["command": "ok", "outcome": "spawn_failed"]) == 0)
        let duration = MetricNames.execDuration.name
        #expect(sample(m, duration, "_count", ["command": "ok"]) == 1)  // the busy one never started
        #expect(sample(m, duration, "_bucket", ["command": "slow", "le": "0.25"]) == 0)
        #expect(sample(m, duration, "_bucket", ["command": "slow", "le": "+Inf"]) == 1)
        #expect((sample(m, duration, "_sum", ["command": "slow"]) ?? 0) >= 0.3)
    }

    @Test("gatewayd_turns by outcome, gatewayd_turn_duration_seconds, queue depth, sessions and turns in flight")
    func turns() async throws {
        var settings = try config(yaml)
        settings.busyInputMode = .queue
        let agent = GateAgent()
        let metrics = GatewayMetrics()
        let d = Dispatcher(config: settings, agent: agent, metrics: metrics)
        await d.markRunning()
        let first = Task { await send(d, "one") }
        await agent.waitForStarts(1)
        let queued = await d.subscribe { $0 == .messageDispatched(session: message("x").sessionKey, route: .busyQueued) }
        let second = Task { await send(d, "two") }
        for await _ in queued { break }
        // "two" waits behind "one".
        var m = await families(d)
        #expect(sample(m, MetricNames.queueDepth.name, nil) == 1)
        #expect(sample(m, MetricNames.turnsInFlight.name, nil) == 1)
        #expect(sample(m, MetricNames.sessions.name, nil) == 1)
        #expect(await d.stopTurn(session: message("x").sessionKey))  // "one" interrupted
        await agent.waitForStarts(2)
        agent.release("two")
        _ = await (first.value, second.value)
        let failing = Dispatcher(config: settings, agent: FailingAgent(), metrics: metrics)
        await failing.markRunning()
        _ = await send(failing, "boom")
        m = await families(d)
        #expect(sample(m, MetricNames.turns.name, "_total", ["outcome": "interrupted"]) == 1)
        #expect(sample(m, MetricNames.turns.name, "_total", ["outcome": "completed"]) == 1)
        #expect(sample(m, MetricNames.turns.name, "_total", ["outcome": "failed"]) == 1)
        #expect(sample(m, MetricNames.turns.name, "_total", ["outcome": "timed_out"]) == 0)
        #expect(sample(m, MetricNames.turnDuration.name, "_count") == 3)
        #expect(sample(m, MetricNames.queueDepth.name, nil) == 0)
    }

    @Test("the agent backend's API: tokens in and out, errors by kind (past 32 kinds: other)")
    func agentAPI() {
        let metrics = GatewayMetrics()
        metrics.agentTokens(input: 120, output: 30)
        metrics.agentTokens(input: 5, output: 0)
        metrics.agentError(kind: "timeout")
        metrics.agentError(kind: "timeout")
        for index in 0..<40 { metrics.agentError(kind: "kind\(index)") }
        let m = metrics.families(MetricsScrape())
        #expect(sample(m, MetricNames.agentTokens.name, "_total", ["direction": "in"]) == 125)
        #expect(sample(m, MetricNames.agentTokens.name, "_total", ["direction": "out"]) == 30)
        #expect(sample(m, MetricNames.agentErrors.name, "_total", ["kind": "timeout"]) == 2)
        // timeout and 30 more kept, the 32nd label set is other's: 10 errors of kinds past them.
        #expect(sample(m, MetricNames.agentErrors.name, "_total", ["kind": "other"]) == 10)
        #expect(m.first { $0.name == MetricNames.agentErrors.name }?.samples.count == 32)
    }

    @Test("the scrape's gauges: platform connected, reconnects, config revision, log records dropped, start time")
    func scrapeGauges() {
        let metrics = GatewayMetrics()
        metrics.platformReconnected("irc")
        let m = metrics.families(MetricsScrape(
            platforms: [("local", PlatformHealth(.up, "")), ("irc", PlatformHealth(.connecting, "reconnecting")),
                        ("webhook", PlatformHealth(.up, ""))],
            configRevision: "0123456789abcdef", logRecordsDropped: 7))
        #expect(sample(m, MetricNames.platformConnected.name, nil, ["platform": "irc"]) == 0)
        #expect(sample(m, MetricNames.platformConnected.name, nil, ["platform": "webhook"]) == 1)
        #expect(sample(m, MetricNames.platformReconnects.name, "_total", ["platform": "irc"]) == 1)
        #expect(sample(m, MetricNames.platformReconnects.name, "_total", ["platform": "webhook"]) == 0)
        #expect(sample(m, MetricNames.config.name, "_info", ["revision": "0123456789abcdef"]) == 1)
        #expect(sample(m, MetricNames.logRecordsDropped.name, "_total") == 7)
        let start = sample(m, MetricNames.startTime.name, nil) ?? 0
        #expect(abs(start - Date().timeIntervalSince1970) < 60)
        #expect(m.map(\.name) == MetricNames.all.map(\.name))
    }

    @Test("gatewayd_store_commit_duration_seconds: one observation per durable queue transaction")
    func storeCommits() async throws {
        let directory = makeTemporaryDirectory("gatewayd-metrics-store")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let metrics = GatewayMetrics()
        let store = try #require(StateStore.open(directory: directory, metrics: metrics).store)
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent(), store: store, metrics: metrics)
        await d.markRunning()
        let before = sample(metrics.families(MetricsScrape()), MetricNames.storeCommitDuration.name, "_count") ?? -1
        _ = await send(d, "keep me")
        await store.flush()
        let after = sample(metrics.families(MetricsScrape()), MetricNames.storeCommitDuration.name, "_count") ?? 0
        #expect(after > before)
    }

    @Test("a dispatcher without a registry counts nothing")
    func off() async throws {
        let d = Dispatcher(config: try config(yaml), agent: EchoAgent())
        await d.markRunning()
        _ = await send(d, "/ok")
        let m = await families(d)
        #expect(m.first { $0.name == MetricNames.messages.name }?.samples.isEmpty == true)
    }

    @Test("metrics.listen: host:port (IPv6 in brackets), anything else refused with its path; a change waits for a restart")
    func listenConfig() throws {
        #expect(try config("metrics: {listen: \"127.0.0.1:9464\"}").metrics.listen == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try config("metrics: {listen: \"[::1]:9464\"}").metrics.listen?.description == "[::1]:9464")
        #expect(try config("").metrics.listen == nil)
        for bad in ["9464", "127.0.0.1", "127.0.0.1:99999", ":9464"] {
            let problems = ConfigLoader.parse("metrics: {listen: \"\(bad)\"}").errors
            #expect(problems.map(\.path) == ["metrics.listen"], "\(bad)")
        }
        #expect(ConfigLoader.parse("metrics: {port: 1}").errors.map(\.path) == ["metrics.port"])
        let change = ConfigChange.changes(from: try config(""), to: try config("metrics: {listen: \"127.0.0.1:9464\"}"))
        #expect(change == [ConfigChange(section: "metrics.listen", summary: "off → 127.0.0.1:9464", applies: .restart)])
    }

    @Test("the README's metrics table lists every metric exported, with its HELP text")
    func readmeListsEveryMetric() throws {
        let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        let exported = GatewayMetrics().families(MetricsScrape()).map(\.name)
        for family in MetricNames.all {
            #expect(exported.contains(family.name))
        }
        for name in exported {
            let family = try #require(MetricNames.all.first { $0.name == name })
            let row = readme.split(separator: "\n").first { line in
                ["", "_total", "_info"].contains { line.hasPrefix("| `\(name)\($0)`") }
            }
            #expect(row != nil, "README.md has no row for \(name)")
            #expect(row?.contains(family.help) == true, "README.md's row for \(name) does not carry its HELP text: \(family.help)")
        }
    }
}
