import GatewayWire
import GatewayCore
import Logging

extension Daemon {
    // MARK: Reload

    /// Re-reads the file and applies what can change live (see the interface's `Reload`), or
    /// with `check` only compares it with what runs. The outcome is in the reply, in one
    /// journal record, and (for keys that need a restart) in `STATUS=` and `GetStatus`.
    func reloadConfiguration(check: Bool, text: String?) async throws(ConfigError) -> ReloadOutcome {
        await beginReload()
        defer { endReload() }
        if check {
            let outcome: StartupCheck
            if let text {
                outcome = try StartupCheck(text: text, name: "the checked file")
            } else {
                outcome = try StartupCheck(path: configPath, explicit: configExplicit)
            }
            return ReloadOutcome(applied: false, revision: outcome.outcome.revision,
                                 changes: ConfigChange.changes(from: config, to: effective(outcome.outcome.config)), warnings: outcome.warnings)
        }
        if let reason = await stopUnderWay() {
            // As a SIGHUP then is ignored: the shutdown stops the adapters (a reload would start
            // new ones after it), and RELOADING=1 and READY=1 must not follow STOPPING=1.
            logger.notice("reload refused: the gateway is \(reason.gerund)", metadata: ["event": "reload_ignored"])
            throw ConfigError(file: configPath, problems: [
                ConfigProblem(severity: .error, path: "", line: nil, message: GatewayText.reloadWhileStopping(reason.gerund))])
        }
        notify { try $0.reloading(status: "Reloading") }
        let checked: StartupCheck
        do throws(ConfigError) {
            // The check a start runs (a missing --config file, the adapters' own settings): a
            // file that would not start is refused here, not at the next restart.
            checked = try StartupCheck(path: configPath, explicit: configExplicit)
            // Unless what runs came from that same settings-less file (then nothing changes).
            // (A daemon that runs the built-in defaults, with no file, takes a settings-less new one.)
            if fileExists(configPath) && !checked.outcome.hasDocument && applied.revision != nil
                && checked.outcome.revision != applied.revision {
                throw ConfigError(file: configPath, problems: [ConfigProblem(severity: .error, path: "", line: nil, message: GatewayText.reloadEmptyFile)])
            }
        } catch {
            logger.error("reload refused, the old configuration stays: \(error)", metadata: [
                "event": "reload_failed", "MESSAGE_ID": "\(GatewayMessageID.reloadRefused)",
            ])
            let line = status.lastLine
            notify { try $0.ready(status: line) }
            throw error
        }
        for warning in checked.warnings {
            logger.warning("\(configPath): \(warning)", metadata: ["event": "config_warning"])
        }
        let file = effective(checked.outcome.config)
        var changes = ConfigChange.changes(from: config, to: file)
        // Keys that cannot change live keep their old values (the socket is bound, the store open).
        var next = file
        next.control.socket = config.control.socket
        next.control.socketMode = config.control.socketMode
        next.stateDirectory = config.stateDirectory
        next.metrics = config.metrics
        let newAgent = next.agent == config.agent ? nil : Self.makeAgent(next, store: store, eventLoops: eventLoops, logger: logger)
        config = next
        published.withLockedValue { state in
            state.localEnabled = next.platforms.localEnabled
            if let newAgent {
                state.agent = newAgent
                state.agentBackend = next.agent.backend
            }
        }
        // Running turns finish on the old backend; an OpenAI one closes its connections when the
        // last of them lets go of it (`OpenAIEndpoint.deinit`).
        await dispatcher.reload(next, agent: newAgent)
        // control.admin_group as the new file says, and the group database says now.
        applyControlPermissions(controlPermissions(next))
        let platformOutcomes = await platforms.apply(next.platforms.network)
        // What serves, not what the file asked for: a platform that could not take its new
        // settings runs with its old ones (or not at all), so the next reload and `reload
        // --check` still show that change (and try it again) instead of "no changes".
        config.platforms.network = await platforms.settings
        for index in changes.indices {
            let section = changes[index].section
            guard section.hasPrefix("platforms."), let outcome = platformOutcomes[String(section.dropFirst("platforms.".count))] else { continue }
            changes[index].summary += ": \(outcome.summary)"
            if outcome.failed { changes[index].applies = .failed }
        }
        let restartNeeded = changes.filter { $0.applies == .restart }.map(\.section)
        applied = AppliedConfig(revision: checked.outcome.revision, loadedUsec: Int(WallClock.microseconds()), restartNeeded: restartNeeded)
        status.restartNeeded = restartNeeded
        let source = fileExists(configPath) ? "from \(configPath)" : "(no file at \(configPath): built-in defaults)"
        let summary = changes.isEmpty ? "no changes" : changes.map { "\($0.section): \($0.summary)" }.joined(separator: "; ")
        var metadata: Logger.Metadata = [
            "event": "reload", "MESSAGE_ID": "\(GatewayMessageID.reloaded)", "config_revision": "\(checked.outcome.revision ?? "defaults")",
            "changes": "\(summary)",
        ]
        if !restartNeeded.isEmpty { metadata["restart_needed"] = "\(restartNeeded.joined(separator: ","))" }
        let waiting = restartNeeded.isEmpty ? "" : "; \(Wire.restartToApply(restartNeeded))"
        // An error when a platform could not take its new settings: the reload did not do all it said.
        let level: Logger.Level = changes.contains { $0.applies == .failed } ? .error : .info
        logger.log(level: level, "configuration reloaded \(source): \(summary)\(waiting)", metadata: metadata)
        let line = status.reset(to: await dispatcher.snapshot, platformCount: platformNames.count)
        notify { try $0.ready(status: line) }
        return ReloadOutcome(applied: true, revision: checked.outcome.revision, changes: changes, warnings: checked.warnings)
    }

    /// A file's configuration as this process would run it: `--state-dir` and `--socket` win
    /// over the file, and a socket systemd passed makes `control.socket` and its mode the socket
    /// unit's business; a file that differs only there changes nothing (a restart would not
    /// apply it either).
    private func effective(_ file: GatewayConfig) -> GatewayConfig {
        var effective = file
        if let stateDirectoryOverride { effective.stateDirectory = stateDirectoryOverride }
        if socketOverride != nil || socketActivated { effective.control.socket = config.control.socket }
        if socketActivated { effective.control.socketMode = config.control.socketMode }
        return effective
    }

    /// The stop or restart under way (SIGTERM, SIGUSR1, `gatewayctl stop` or `restart`, `/restart`);
    /// nil while running or in an admin drain, which a reload may change.
    func stopUnderWay() async -> DrainReason? {
        if let requestedDrain { return requestedDrain }
        let state = await dispatcher.state
        guard state.refusesNewWork, let reason = state.reason, reason != .admin else { return nil }
        return reason
    }

    /// One reload at a time: the adapters must not be changed by two at once.
    private func beginReload() async {
        while reloading { await withCheckedContinuation { reloadWaiters.append($0) } }
        reloading = true
    }

    private func endReload() {
        reloading = false
        if !reloadWaiters.isEmpty { reloadWaiters.removeFirst().resume() }
    }
}
