import Glibc
import ProcessRunner

/// Routes each inbound message, in the fixed order of docs/DESIGN.md: access, parse, built-in
/// command, exec quick command, alias, draining guard, busy guard, agent turn.
///
/// An actor with reentrancy on purpose: while a turn or an exec quick command is awaited, the
/// dispatcher keeps serving other messages, which is how exec quick commands run while the
/// session is busy and while the gateway drains. It knows nothing of sockets or systemd;
/// observers learn of changes through `subscribe()`.
package actor Dispatcher {
    package private(set) var config: GatewayConfig
    var access: AccessPolicy
    /// Strangers told "not allowed" lately (each at most once per interval, memory bounded).
    var refusals = RefusalNotices()
    var lifecycle = LifecycleMachine()
    /// The sessions in memory, their counters and eviction order (`sessions:` in the config).
    var sessions: SessionTable
    /// Wakes when the least recently active idle session's `idle_timeout` runs out.
    var sessionSweep: Task<Void, Never>?
    var sessionSweepWake: Duration?
    var counters = GatewayCounters()
    let execRunner: ProcessRunner
    /// Read when a turn starts: a reload's new agent serves the turns that start after it.
    var agent: any AgentBackend
    let clock: any GatewayClock
    var nextTurnID: UInt64 = 1
    var observers: [UInt64: EventObserver] = [:]
    var nextObserverID: UInt64 = 1
    /// Called synchronously with every event (see `observe(_:)`).
    var sinks: [@Sendable (GatewayEvent) -> Void] = []
    /// Takes the audit records of privileged chat commands (see `setAuditSink(_:)`).
    var auditSink: AuditSink?
    var drainWaiters: [CheckedContinuation<Void, Never>] = []
    var drainTimer: Task<Void, Never>?
    /// One task enforces `agent.turn_timeout` for every turn: it sleeps until the earliest
    /// deadline, so a turn costs no timer of its own.
    var turnMonitor: Task<Void, Never>?
    var turnMonitorWake: Duration?
    /// The durable queue; nil runs from memory only (what is queued dies with the process).
    let store: (any MessageStore)?
    /// Per session, the order in which messages waiting for their store write are routed: the
    /// writes of a burst share one commit, and the messages are still routed as they arrived.
    var routingOrder: [String: RoutingOrder] = [:]
    /// Where the counters of `gatewayd_*` go; nil counts nothing (the benchmark's baseline).
    package let metrics: GatewayMetrics?
    /// The registry's cells by platform and by quick command, kept here so that counting a
    /// message or a run is an atomic add, with no lookup under the registry's lock.
    var metricCells = MetricCellCache()

    package init(config: GatewayConfig, agent: any AgentBackend, clock: any GatewayClock = SystemClock(),
                store: (any MessageStore)? = nil, metrics: GatewayMetrics? = nil) {
        self.store = store
        self.metrics = metrics
        self.config = config
        access = AccessPolicy(config.access)
        sessions = SessionTable(limits: config.sessions)
        execRunner = ProcessRunner(maxConcurrent: config.exec.maxConcurrent)
        self.agent = agent
        self.clock = clock
    }

    /// Its timers (the session sweep, the drain deadline, the turn monitor) hold it weakly and
    /// sleep on its clock: they end with it rather than sleep on for the idle timeout (24 h by
    /// default), or for ever on a clock nobody advances (LeakSanitizer found the test's).
    deinit {
        sessionSweep?.cancel()
        drainTimer?.cancel()
        turnMonitor?.cancel()
    }

    package var state: GatewayState { lifecycle.state }

    package var snapshot: GatewaySnapshot { GatewaySnapshot(state: lifecycle.state, counters: counters) }

    package func sessionSnapshots() -> [SessionSnapshot] {
        sessions.all.map {
            SessionSnapshot(key: $0.key, turnRunning: $0.turn != nil, queued: $0.pending.count, turnCount: $0.turnCount,
                            usage: $0.usage)
        }
    }

    /// Stops the session's running turn (`gatewayctl sessions stop`); false when none runs.
    package func stopTurn(session key: String) -> Bool {
        guard let turn = sessions.turn(key) else { return false }
        turn.task.cancel()
        return true
    }

    /// Forgets a session (`gatewayctl sessions reset`); its running turn, if any, is stopped.
    package func resetSession(_ key: String) -> Bool {
        guard let session = sessions.remove(key) else { return false }
        session.turn?.task.cancel()
        store?.forgetSession(key)
        syncSessionCounters()
        return true
    }

    /// `starting` -> `running`, once the daemon serves.
    package func markRunning() {
        lifecycle.move(to: .running)
        publish(.stateChanged(lifecycle.state))
        startIdleQueues()
    }

    /// Answers the dispatcher's liveness probe (the watchdog pings only when this returns).
    package func ping() -> Bool { true }

    /// Test hook: blocks the dispatcher for good, as a deadlock would, so tests can watch systemd's
    /// watchdog restart the service. Reachable only when the daemon runs with
    /// `GATEWAYD_TEST_HOOKS=1`. Testing SPI (`public` only because `@_spi` requires it: the
    /// actor is `package`): callers name it with `@_spi(Testing) import GatewayCore`.
    @_spi(Testing) public func wedgeForTesting() {
        while true { sleep(3600) }
    }

    /// Swaps in a new configuration (and `agent`, when its settings changed). Sessions, queues,
    /// running commands and running turns carry on; removed quick commands stop being offered
    /// at once, and turns that start from now use the new agent.
    package func reload(_ newConfig: GatewayConfig, agent newAgent: (any AgentBackend)? = nil) {
        let wasRunning = lifecycle.state == .running
        if wasRunning { lifecycle.move(to: .reloading); publish(.stateChanged(lifecycle.state)) }
        execRunner.setMaxConcurrent(newConfig.exec.maxConcurrent)
        config = newConfig
        if let newAgent { agent = newAgent }
        access = AccessPolicy(newConfig.access)
        applySessionLimits(newConfig.sessions)
        if wasRunning { lifecycle.move(to: .running); publish(.stateChanged(lifecycle.state)) }
        publish(.configReloaded)
    }

    // MARK: Dispatch

    /// Handles one message; returns once its direct handling is done. A message queued behind a
    /// running turn gets its replies later, on the same sink.
    package func handle(_ message: InboundMessage, replies: any ReplySink) async {
        let key = message.sessionKey
        guard access.isAllowed(message) else {
            InboundReceipt.current?.taken()
            dispatched(message, .refused)
            // Silently in groups: a stranger in a channel gets nothing to probe with. In a direct
            // chat, once per interval: more would only queue refusals ahead of real replies.
            if message.chatType == .dm && refusals.shouldTell(message.senderID, now: clock.now()) {
                await replies.send(GatewayText.notAllowed)
            }
            return
        }
        touchSession(key)
        var current = message
        var chain: [String] = []
        while let command = ParsedCommand(current.text) {
            if let builtin = BuiltinCommand(rawValue: command.name) {
                InboundReceipt.current?.taken()
                dispatched(current, .builtin, counted: !chain.isEmpty)
                await runBuiltin(builtin, command, current, replies)
                return
            }
            guard let quick = config.quickCommands[command.name] else {
                InboundReceipt.current?.taken()
                if lifecycle.state.refusesNewWork {
                    dispatched(current, .drainRefused, counted: !chain.isEmpty)
                    await replies.send(GatewayText.draining(lifecycle.state.reason?.gerund ?? "draining"))
                } else {
                    dispatched(current, .unknownCommand, counted: !chain.isEmpty)
                    await replies.send(GatewayText.unknownCommand(command.name))
                }
                return
            }
            if case .alias = quick.kind {} else { InboundReceipt.current?.taken() }
            switch quick.kind {
            case .exec(let text):
                dispatched(current, .execQuickCommand, counted: !chain.isEmpty)
                await runExecQuickCommand(quick, text, command.arguments, current, replies)
                return
            case .invalid(let reply):
                if chain.isEmpty { countMessage(current.platform, .dropped) }
                await replies.send(reply)
                return
            case .alias(let target):
                chain.append(command.name)
                guard chain.count <= GatewayConstants.maxAliasRewrites else {
                    InboundReceipt.current?.taken()
                    await replies.send(GatewayText.aliasLoop(chain))
                    return
                }
                let slashed = target.hasPrefix("/") ? target : "/" + target
                current.text = command.argumentText.isEmpty ? slashed : "\(slashed) \(command.argumentText)"
                dispatched(current, .alias, counted: chain.count > 1)
            }
        }
        await submitTurn(current, replies, counted: !chain.isEmpty)
    }

    /// Draining guard, busy guard, agent turn: the path of plain text and agent-bound commands.
    /// With a store, the message is written first: nobody is told "queued" (or gets a turn) for
    /// a message that would not survive a restart. `explicitQueue` is `/queue`: it queues behind
    /// a running turn whatever `busy_input_mode` says, and its acknowledgement is not rate-limited.
    /// `counted`: the message was already counted in `gatewayd_messages` (an alias, `/queue`).
    func submitTurn(_ message: InboundMessage, _ replies: any ReplySink, explicitQueue: Bool = false, counted: Bool = false) async {
        let key = message.sessionKey
        guard acceptsTurn(for: key) else {
            InboundReceipt.current?.taken()
            await refuseWhileDraining(message, replies, counted: counted)
            return
        }
        // Without a store nothing is kept anyway; with one, it is taken once written (below).
        if store == nil { InboundReceipt.current?.taken() }
        var storeIDs: [Int64] = []
        var ticket: UInt64?
        if let store {
            ticket = takeRoutingTicket(key)
            // The write is queued at once (in arrival order); only routing waits for its turn.
            let stored: Result<Int64, StoreError>
            do { stored = .success(try await store.append(message, session: key)) } catch { stored = .failure(error) }
            InboundReceipt.current?.taken()
            await waitForRoutingTurn(key, ticket!)
            switch stored {
            case .success(let id):
                storeIDs = [id]
            case .failure(let error):
                finishRouting(key, ticket)
                dispatched(message, .storeFailed, counted: counted)
                await replies.send(GatewayText.notStored(error.message))
                return
            }
            // The state may have moved while the disk was written.
            guard acceptsTurn(for: key) else {
                store.markDone(storeIDs)
                finishRouting(key, ticket)
                await refuseWhileDraining(message, replies, counted: counted)
                return
            }
        }
        let item = PendingMessage(message: message, replies: replies, storeIDs: storeIDs)
        if lifecycle.state.refusesNewWork {
            // A restart drain and the session busy: kept for after the restart, as the reply says.
            dispatched(message, .restartQueued, counted: counted)
            sessions.enqueue(key, item)
            syncSessionCounters()
            finishRouting(key, ticket)
            await replies.send(GatewayText.queuedForRestart)
            return
        }
        if let running = sessions.turn(key) {
            if config.busyInputMode == .interrupt && !explicitQueue {
                dispatched(message, .busyInterrupt, counted: counted)
                mergeIntoPending(key, item)
                running.task.cancel()
                finishRouting(key, ticket)
                await acknowledgeBusy(key, GatewayText.interruptingAck, replies)
            } else {
                dispatched(message, .busyQueued, counted: counted)
                let count = sessions.enqueue(key, item)
                syncSessionCounters()
                finishRouting(key, ticket)
                if explicitQueue {
                    await replies.send(GatewayText.queued(count: max(count, 1)))
                } else {
                    await acknowledgeBusy(key, GatewayText.queuedAck, replies)
                }
            }
            return
        }
        dispatched(message, .agentTurn, counted: counted)
        finishRouting(key, ticket)
        await runTurns(key, first: item)
    }

    /// Running: yes. Draining: only a busy session's message during a restart, and only when a
    /// store keeps it (without one the promise would be false).
    private func acceptsTurn(for key: String) -> Bool {
        guard lifecycle.state.refusesNewWork else { return true }
        return lifecycle.state == .draining(.restart) && store != nil && sessions.turn(key) != nil
    }

    private func refuseWhileDraining(_ message: InboundMessage, _ replies: any ReplySink, counted: Bool) async {
        dispatched(message, .drainRefused, counted: counted)
        await replies.send(GatewayText.draining(lifecycle.state.reason?.gerund ?? "draining"))
    }

    /// The session is held (not evictable) while it has tickets out.
    private func takeRoutingTicket(_ key: String) -> UInt64 {
        if routingOrder[key] == nil { sessions.hold(key) }
        routingOrder[key, default: RoutingOrder()].issued += 1
        return routingOrder[key]!.issued - 1
    }

    /// Returns once every earlier ticket of the session has been routed.
    private func waitForRoutingTurn(_ key: String, _ ticket: UInt64) async {
        guard routingOrder[key]?.next != ticket else { return }
        await withCheckedContinuation { routingOrder[key]!.waiters[ticket] = $0 }
    }

    /// Lets the next ticket route. A nil ticket (no store) is a no-op.
    private func finishRouting(_ key: String, _ ticket: UInt64?) {
        guard let ticket, var order = routingOrder[key] else { return }
        order.next = ticket + 1
        if order.next == order.issued {
            routingOrder[key] = nil
            sessions.release(key, now: clock.now())
            scheduleSessionSweep()
        } else {
            let waiter = order.waiters.removeValue(forKey: order.next)
            routingOrder[key] = order
            waiter?.resume()
        }
    }

    /// An interrupting message replaces what waits (their texts merged), so the next turn sees
    /// everything the user said since the interrupted one.
    private func mergeIntoPending(_ key: String, _ incoming: PendingMessage) {
        sessions.mergeIntoPending(key, incoming)
        syncSessionCounters()
    }

    private func acknowledgeBusy(_ key: String, _ text: String, _ replies: any ReplySink) async {
        let now = clock.now()
        if let last = sessions[key]?.lastAcknowledgement, now - last < GatewayConstants.busyAckInterval { return }
        sessions.acknowledged(key, at: now)
        await replies.send(text)
    }
}
