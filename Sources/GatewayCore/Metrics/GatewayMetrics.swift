import GatewayWire

/// gatewayd's metrics registry: counters and histograms that the dispatcher, the store, the
/// adapters and the agent backend move as things happen (atomic adds, no lock on the hot path),
/// and the families they make at a scrape, with the gauges read then (`MetricsScrape`).
///
/// Not swift-metrics + swift-prometheus: their registry takes a lock for every labelled lookup,
/// renders only the text format (no OpenMetrics, no `# EOF`), and hands out bytes, where
/// `GetMetrics` answers with one typed value per family.
///
/// The daemon uses `shared`; a test gives its dispatcher one of its own.
package final class GatewayMetrics: Sendable {
    /// The daemon's registry. The agent backend and the adapters record into it
    /// (`GatewayMetrics.agentTokens(in:out:)`, `agentError(kind:)`).
    package static let shared = GatewayMetrics()

    /// Where a message went, as `gatewayd_messages` counts it (once per message). Coarser than
    /// the event stream's routes: `agent` covers a turn, a busy interrupt and a queued message;
    /// `dropped` a drain's refusal, an unknown command, an invalid quick command entry, a store
    /// that could not take it; `alias` a message that named an alias, wherever its target went.
    package enum MessageRoute: Int, Sendable, CaseIterable {
        case builtin, exec, alias, agent, refused, dropped

        package var label: String {
            switch self {
            case .builtin: "builtin"
            case .exec: "exec"
            case .alias: "alias"
            case .agent: "agent"
            case .refused: "refused"
            case .dropped: "dropped"
            }
        }

        package init(_ route: GatewayEvent.Route) {
            switch route {
            case .refused: self = .refused
            case .builtin: self = .builtin
            case .execQuickCommand: self = .exec
            case .alias: self = .alias
            case .agentTurn, .busyInterrupt, .busyQueued, .restartQueued: self = .agent
            case .drainRefused, .unknownCommand, .storeFailed: self = .dropped
            }
        }
    }

    package enum ExecOutcome: Int, Sendable, CaseIterable {
        case exited0, exitedNonzero, signaled, timedOut, busy, spawnFailed

        package var label: String {
            switch self {
            case .exited0: "exited_0"
            case .exitedNonzero: "exited_nonzero"
            case .signaled: "signaled"
            case .timedOut: "timed_out"
            case .busy: "busy"
            case .spawnFailed: "spawn_failed"
            }
        }
    }

    package enum TurnOutcome: Int, Sendable, CaseIterable {
        /// The backend returned.
        case completed
        /// The backend threw (its chat was told).
        case failed
        /// Stopped by a newer message, `/stop`, `sessions stop` or `reset`.
        case interrupted
        /// Past `agent.turn_timeout`.
        case timedOut
        /// Cut short by the end of a drain.
        case drained

        package var label: String {
            switch self {
            case .completed: "completed"
            case .failed: "failed"
            case .interrupted: "interrupted"
            case .timedOut: "timed_out"
            case .drained: "drained"
            }
        }
    }

    /// One platform's message counters, one per route.
    package final class RouteCells: Sendable {
        let routes = CounterRow(count: MessageRoute.allCases.count)
        @inline(__always)
        package func count(_ route: MessageRoute) { routes.add(at: route.rawValue) }
    }

    /// One quick command's run counters and duration histogram.
    package final class ExecCells: Sendable {
        let outcomes = CounterRow(count: ExecOutcome.allCases.count)
        let duration = HistogramCell(bounds: MetricNames.execBounds)
        package func count(_ outcome: ExecOutcome) { outcomes.add(at: outcome.rawValue) }
        package func observe(_ elapsed: Duration) { duration.observe(elapsed) }
    }

    let messages = LabeledCells(limit: 64, overflow: ["other"]) { RouteCells() }
    let exec = LabeledCells(limit: 1_024, overflow: ["other"]) { ExecCells() }
    let turns = CounterRow(count: TurnOutcome.allCases.count)
    let turnDuration = HistogramCell(bounds: MetricNames.turnBounds)
    let tokensIn = CounterCell(), tokensOut = CounterCell()
    let agentErrors = LabeledCells(limit: 32, overflow: ["other"]) { CounterCell() }
    let replies = LabeledCells(limit: 64, overflow: ["other", "other"]) { CounterCell() }
    let storeCommit = HistogramCell(bounds: MetricNames.storeBounds)
    let reconnects = LabeledCells(limit: 64, overflow: ["other"]) { CounterCell() }
    /// When this registry was made: the daemon makes `shared` first thing.
    package let startTimeSeconds: Double

    package init() {
        startTimeSeconds = Double(WallClock.microseconds()) / 1_000_000
    }

    // MARK: Recording

    /// A platform's route counters; keep the result (the lookup takes a lock, the counting not).
    package func messageCells(platform: String) -> RouteCells { messages.cell([platform]) }

    /// A quick command's counters; keep the result, as for `messageCells`.
    package func execCells(command: String) -> ExecCells { exec.cell([command]) }

    package func turnFinished(_ outcome: TurnOutcome, after duration: Duration) {
        turns.add(at: outcome.rawValue)
        turnDuration.observe(duration)
    }

    /// What the agent backend spent on one call: `input` prompt tokens, `output` completion
    /// tokens, as its API reported them.
    package func agentTokens(input: Int, output: Int) {
        if input > 0 { tokensIn.add(UInt64(input)) }
        if output > 0 { tokensOut.add(UInt64(output)) }
    }

    /// One error of the agent backend. `kind` is a short fixed word (`timeout`, `http_5xx`,
    /// `rate_limited`, `invalid_response`, ...), never a message: past 32 kinds, they count as `other`.
    package func agentError(kind: String) { agentErrors.cell([kind]).add() }

    /// A reply of the ledger's (see `ReplyOutcome`).
    package func reply(_ outcome: ReplyOutcome, platform: String, count: Int = 1) {
        guard count > 0 else { return }
        replies.cell([platform, outcome.rawValue]).add(UInt64(count))
    }

    package func replyCount(_ outcome: ReplyOutcome, platform: String) -> UInt64 {
        replies.all.first { $0.labels == [platform, outcome.rawValue] }?.cell.value ?? 0
    }

    /// The agent backend's entry points, on the daemon's registry.
    package static func agentTokens(in input: Int, out output: Int) { shared.agentTokens(input: input, output: output) }
    package static func agentError(kind: String) { shared.agentError(kind: kind) }

    /// One durable queue transaction (`StateStore`), committed or not.
    package func storeCommitted(after duration: Duration) { storeCommit.observe(duration) }

    /// A platform adapter connected again after losing (or failing) its connection.
    package func platformReconnected(_ platform: String) { reconnects.cell([platform]).add() }

    /// `gatewayd_agent_errors_total` of one kind.
    package func agentErrorCount(kind: String) -> UInt64 {
        agentErrors.all.first { $0.labels == [kind] }?.cell.value ?? 0
    }

    /// `gatewayd_platform_reconnects_total` of one platform.
    package func reconnectCount(of platform: String) -> UInt64 {
        reconnects.all.first { $0.labels == [platform] }?.cell.value ?? 0
    }
}

/// What a scrape reads at that moment, beside the registry's counters.
package struct MetricsScrape: Sendable {
    package var counters: GatewayCounters
    package var platforms: [(name: String, health: PlatformHealth)]
    /// nil: the built-in defaults.
    package var configRevision: String?
    package var logRecordsDropped: Int

    package init(counters: GatewayCounters = GatewayCounters(), platforms: [(name: String, health: PlatformHealth)] = [],
                configRevision: String? = nil, logRecordsDropped: Int = 0) {
        self.counters = counters
        self.platforms = platforms
        self.configRevision = configRevision
        self.logRecordsDropped = logRecordsDropped
    }
}

/// What became of a reply the ledger kept (`gatewayd_replies_total{outcome}`).
package enum ReplyOutcome: String, Sendable, CaseIterable {
    case delivered, refused, kept, resent, abandoned
}
