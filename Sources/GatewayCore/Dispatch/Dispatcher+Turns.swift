extension Dispatcher {
    /// Runs `first`, then whatever queued behind it, one turn at a time, until the session is
    /// idle or the gateway drains (queued messages then wait; nothing is dropped).
    func runTurns(_ key: String, first: PendingMessage) async {
        var next: PendingMessage? = first
        while let item = next {
            await runOneTurn(key, item)
            next = nil
            if !lifecycle.state.refusesNewWork, let taken = sessions.takeNext(key) {
                next = taken
                syncSessionCounters()
            }
        }
    }

    /// Starts the waiting messages of sessions that are idle (after `resume`).
    func startIdleQueues() {
        // Only busy sessions can have a queue: no walk over the idle ones.
        for key in sessions.busyKeys {
            guard let first = sessions.takeNext(key) else { continue }
            Task { await self.runTurns(key, first: first) }
        }
        syncSessionCounters()
    }

    private func runOneTurn(_ key: String, _ item: PendingMessage) async {
        let id = nextTurnID
        nextTurnID += 1
        let message = item.message
        let turn = AgentTurn(session: key, platform: message.platform, chat: message.chat, user: message.user, text: message.text)
        // Its replies linked to its stored messages (the ledger's rows go with a replay).
        let replies = item.storeIDs.isEmpty ? item.replies
            : (item.replies as? any TurnBoundReplySink)?.forTurn(of: item.storeIDs) ?? item.replies
        let agent = self.agent
        let task = Task {
            let outcome = await Self.performTurn(agent, turn, replies)
            if outcome.usage != .none { await self.addUsage(key, outcome.usage) }
            return outcome.failed
        }
        let started = clock.now()
        let deadline = started + config.agent.turnTimeout
        // Back in memory if it was evicted before its queued message's turn could start.
        if !sessions.contains(key) { touchSession(key) }
        sessions.startTurn(key, RunningTurn(id: id, task: task, message: message, replies: replies,
                                            storeIDs: item.storeIDs, deadline: deadline))
        store?.markActive(item.storeIDs, session: key)
        counters.turnsInFlight += 1
        publish(.countersChanged(counters))
        scheduleTurnMonitor(for: deadline)
        let failed = await task.value
        let finished = clock.now()
        let running = sessions.turn(key)
        if let metrics {
            let outcome: GatewayMetrics.TurnOutcome =
                running?.interruptedByDrain == true ? .drained
                : running?.timedOut == true ? .timedOut
                : task.isCancelled ? .interrupted
                : failed ? .failed : .completed
            metrics.turnFinished(outcome, after: finished - started)
        }
        // Its replies are handed over (the sink's sends were awaited): done, unless a drain cut it
        // short, and then it is retried after the restart.
        if running?.interruptedByDrain == true {
            store?.markInterrupted(item.storeIDs)
        } else {
            store?.markDone(item.storeIDs)
        }
        sessions.finishTurn(key, id: id, now: finished)
        scheduleSessionSweep()
        counters.turnsInFlight -= 1
        publish(.countersChanged(counters))
        checkDrained()
    }

    /// One agent turn. Cancellation (an interrupt, `/stop`, the drain or turn timeout) ends it
    /// quietly: whoever cancelled says why. `failed` when the backend failed (for `gatewayd_turns`).
    private static func performTurn(_ agent: any AgentBackend, _ turn: AgentTurn,
                                    _ replies: any ReplySink) async -> (usage: AgentUsage, failed: Bool) {
        do {
            return (try await agent.run(turn) { await replies.send($0) }, false)
        } catch is CancellationError {
        } catch {
            if !Task.isCancelled {
                let reason = (error as? AgentError)?.message ?? "\(error)"
                await replies.send(GatewayText.agentFailed(reason))
                return (.none, true)
            }
        }
        return (.none, false)
    }

    private func addUsage(_ key: String, _ usage: AgentUsage) {
        sessions.addUsage(key, usage)
        metrics?.agentTokens(input: usage.tokensIn, output: usage.tokensOut)
    }

    /// Makes sure the monitor wakes by `deadline`.
    private func scheduleTurnMonitor(for deadline: Duration) {
        if let wake = turnMonitorWake, wake <= deadline { return }
        turnMonitor?.cancel()
        turnMonitorWake = deadline
        let clock = self.clock
        let delay = max(.zero, deadline - clock.now())
        turnMonitor = Task { [weak self] in
            do { try await clock.sleep(for: delay) } catch { return }
            await self?.expireTurns()
        }
    }

    /// Stops every turn past its deadline, tells its chat, and sleeps until the next deadline.
    private func expireTurns() async {
        turnMonitor = nil
        turnMonitorWake = nil
        let now = clock.now()
        var expired: [(any ReplySink, Duration)] = []
        var next: Duration?
        for key in sessions.busyKeys {
            guard let turn = sessions.turn(key), !turn.timedOut, !turn.interruptedByDrain else { continue }
            if turn.deadline <= now {
                sessions.updateTurn(key) { $0.timedOut = true }
                turn.task.cancel()
                expired.append((turn.replies, config.agent.turnTimeout))
            } else {
                next = min(next ?? turn.deadline, turn.deadline)
            }
        }
        if let next { scheduleTurnMonitor(for: next) }
        for (replies, timeout) in expired {
            await replies.send(GatewayText.agentTimedOut(seconds: DurationValue.wholeSeconds(timeout)))
        }
    }
}
