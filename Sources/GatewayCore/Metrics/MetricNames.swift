/// Every metric gatewayd exports: its name (as OpenMetrics names the family; a counter's
/// samples add `_total`, an info's `_info`) and its HELP text. The README's table lists each one
/// (a test fails when one is missing there).
package enum MetricNames {
    package struct Family: Sendable {
        package let name: String
        package let help: String
    }

    package static let messages = Family(name: "gatewayd_messages",
        help: "Messages received, by platform and route (builtin, exec, alias, agent, refused, dropped).")
    package static let execRuns = Family(name: "gatewayd_exec_runs",
        help: "Exec quick command runs, by command and outcome (exited_0, exited_nonzero, signaled, timed_out, busy, spawn_failed).")
    package static let execDuration = Family(name: "gatewayd_exec_duration_seconds",
        help: "Run time of exec quick commands that started, by command.")
    package static let execRunning = Family(name: "gatewayd_exec_running",
        help: "Exec quick commands running now.")
    package static let turns = Family(name: "gatewayd_turns",
        help: "Agent turns finished, by outcome (completed, failed, interrupted, timed_out, drained).")
    package static let turnDuration = Family(name: "gatewayd_turn_duration_seconds",
        help: "Duration of agent turns, whatever their outcome.")
    package static let turnsInFlight = Family(name: "gatewayd_turns_in_flight",
        help: "Agent turns running now.")
    package static let agentTokens = Family(name: "gatewayd_agent_tokens",
        help: "Tokens the agent backend reported, by direction (in: prompt, out: completion).")
    package static let agentErrors = Family(name: "gatewayd_agent_errors",
        help: "Errors of the agent backend, by kind.")
    package static let replies = Family(name: "gatewayd_replies",
        help: "Replies of the platforms that acknowledge them, by platform and outcome (delivered, refused, kept: left in the ledger for the next start; resent and abandoned: by a start).")
    package static let queueDepth = Family(name: "gatewayd_queue_depth",
        help: "Messages waiting behind a running turn, in all sessions.")
    package static let storeCommitDuration = Family(name: "gatewayd_store_commit_duration_seconds",
        help: "Time of one durable queue transaction (a group commit of what piled up).")
    package static let logRecordsDropped = Family(name: "gatewayd_log_records_dropped",
        help: "Log records dropped because the journal was not keeping up.")
    package static let platformConnected = Family(name: "gatewayd_platform_connected",
        help: "1 when the platform is up (connected, or listening), else 0.")
    package static let platformReconnects = Family(name: "gatewayd_platform_reconnects",
        help: "Times a platform adapter tried to connect again after losing or failing its connection.")
    package static let sessions = Family(name: "gatewayd_sessions",
        help: "Sessions in memory.")
    package static let startTime = Family(name: "gatewayd_start_time_seconds",
        help: "When the gateway process started, in seconds since the epoch.")
    package static let config = Family(name: "gatewayd_config",
        help: "The applied configuration: revision is the file's fingerprint (gatewayd --check-config prints it), or defaults.")

    /// Every family, in the order they are exported.
    package static let all = [messages, execRuns, execDuration, execRunning, turns, turnDuration, turnsInFlight, agentTokens,
                              agentErrors, replies, queueDepth, storeCommitDuration, logRecordsDropped, platformConnected,
                              platformReconnects, sessions, startTime, config]

    /// Histogram bounds, in seconds.
    package static let execBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    package static let turnBounds: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
    package static let storeBounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
}
