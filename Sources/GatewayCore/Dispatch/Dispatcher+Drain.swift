extension Dispatcher {
    /// Starts a drain: new agent work is refused (exec quick commands still run), in-flight turns
    /// may finish until `drain.timeout`, then they are interrupted and their chats told. Returns
    /// false when the current state does not allow it (a stop is already under way, say).
    /// `timeout` overrides `drain.timeout` for this drain (`gatewayctl drain --timeout`).
    @discardableResult
    package func beginDrain(_ reason: DrainReason, timeout: Duration? = nil) -> Bool {
        guard lifecycle.moveIfLegal(to: .draining(reason)) else { return false }
        publish(.stateChanged(lifecycle.state))
        drainTimer?.cancel()
        let timeout = timeout ?? config.drain.timeout, clock = self.clock
        drainTimer = Task { [weak self] in
            do { try await clock.sleep(for: timeout) } catch { return }
            await self?.interruptTurnsNow()
        }
        checkDrained()
        return true
    }

    /// Leaves an admin drain: back to `running`, and queued messages start.
    @discardableResult
    package func resume() -> Bool {
        guard lifecycle.state == .draining(.admin), lifecycle.moveIfLegal(to: .running) else { return false }
        drainTimer?.cancel()
        drainTimer = nil
        publish(.stateChanged(lifecycle.state))
        startIdleQueues()
        return true
    }

    /// Interrupts every running turn now and tells each chat once (the drain timeout, or a
    /// second SIGTERM). A turn that already finished is not touched.
    package func interruptTurnsNow() async {
        guard let reason = lifecycle.state.reason else { return }
        var notices: [(String, any ReplySink)] = []
        for key in sessions.busyKeys {
            guard let turn = sessions.turn(key), !turn.interruptedByDrain else { continue }
            sessions.updateTurn(key) { $0.interruptedByDrain = true }
            turn.task.cancel()
            let chat = "\(turn.message.platform):\(turn.message.chat)"
            if !notices.contains(where: { $0.0 == chat }) { notices.append((chat, turn.replies)) }
        }
        for (_, replies) in notices {
            await replies.send(GatewayText.interruptedByDrain(restart: reason == .restart))
        }
    }

    /// `draining` -> `stopping`, once drained (the daemon then exits).
    package func markStopping() {
        guard case .draining(let reason) = lifecycle.state else { return }
        lifecycle.move(to: .stopping(reason))
        publish(.stateChanged(lifecycle.state))
    }

    /// Why the gateway stops, once its drain is over (`stopping`); nil before.
    var stoppingReason: DrainReason? {
        if case .stopping(let reason) = lifecycle.state { return reason }
        return nil
    }

    /// `handle`, unless the gateway is `stopping`: then the message is not taken and the
    /// reason returned. For the control socket's `SendMessage` (served until the very end of a
    /// stop, when work begun would hold the exit); adapters are stopped by then.
    package func handleUnlessStopping(_ message: InboundMessage, replies: any ReplySink) async -> DrainReason? {
        if let reason = stoppingReason { return reason }
        await handle(message, replies: replies)
        return nil
    }

    /// Returns once draining and nothing is in flight (no turn, no exec quick command).
    package func waitUntilDrained() async {
        if isDrained { return }
        await withCheckedContinuation { drainWaiters.append($0) }
    }

    var isDrained: Bool { snapshot.isDrained }

    func checkDrained() {
        guard isDrained, let reason = lifecycle.state.reason else { return }
        let waiters = drainWaiters
        drainWaiters = []
        for waiter in waiters { waiter.resume() }
        publish(.drained(reason))
    }
}
