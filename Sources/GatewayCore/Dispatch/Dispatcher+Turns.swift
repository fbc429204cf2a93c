extension Dispatcher {
    /// Runs `first`, then whatever queued behind it, one turn at a time, until the session is
    /// idle or the gateway drains (queued messages then wait; nothing is dropped).
    func runTurns(_ key: String, first: PendingMessage) async {
        var next: PendingMessage? = first
        while let item = next {
            await runOneTurn(key, item)
            next = nil
            if !lifecycle.state.refusesNewWork, var session = sessions[key], session.turn == nil,
               !session.pending.isEmpty {
                next = session.pending.removeFirst()
                sessions[key] = session
                updateQueuedCounter()
            }
        }
    }

    /// Starts the waiting messages of sessions that are idle (after `resume`).
    func startIdleQueues() {
        for (key, session) in sessions where session.turn == nil && !session.pending.isEmpty {
            var waiting = session
            let first = waiting.pending.removeFirst()
            sessions[key] = waiting
            Task { await self.runTurns(key, first: first) }
        }
        updateQueuedCounter()
    }

    private func runOneTurn(_ key: String, _ item: PendingMessage) async {
        let id = nextTurnID
        nextTurnID += 1
        let message = item.message
        let turn = AgentTurn(session: key, platform: message.platform, chat: message.chat, user: message.user, text: message.text)
        let agent = self.agent, clock = self.clock, timeout = config.agent.turnTimeout, replies = item.replies
        let task = Task { await Self.performTurn(agent, turn, replies, clock, timeout) }
        sessions[key]?.turn = RunningTurn(id: id, task: task, message: message, replies: replies)
        sessions[key]?.turnCount += 1
        counters.turnsInFlight += 1
        publish(.countersChanged(counters))
        await task.value
        if sessions[key]?.turn?.id == id { sessions[key]?.turn = nil }
        counters.turnsInFlight -= 1
        publish(.countersChanged(counters))
        checkDrained()
    }

    /// One agent turn under `agent.turn_timeout`. Cancellation (an interrupt, `/stop`, the drain
    /// timeout) ends it quietly: whoever cancelled says why.
    private static func performTurn(
        _ agent: any AgentBackend, _ turn: AgentTurn, _ replies: any ReplySink,
        _ clock: any GatewayClock, _ timeout: Duration
    ) async {
        let finishedInTime = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await agent.run(turn) { await replies.send($0) }
                } catch is CancellationError {
                } catch {
                    if !Task.isCancelled {
                        let reason = (error as? AgentError)?.message ?? "\(error)"
                        await replies.send(GatewayText.agentFailed(reason))
                    }
                }
                return true
            }
            group.addTask {
                do { try await clock.sleep(for: timeout) } catch { return true }
                return false
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if !finishedInTime && !Task.isCancelled {
            await replies.send(GatewayText.agentTimedOut(seconds: DurationValue.wholeSeconds(timeout)))
        }
    }
}
