import GatewayControl
import GatewayCore
import Logging
import NIOCore
import OpenAIBackend
import Platforms
import ProcessRunner
import StateStore
import Systemd
import ServiceLifecycle
import NIOConcurrencyHelpers
import Varlink
#if canImport(Glibc)
import Glibc
#endif

/// The running daemon: the dispatcher, and the service group that runs everything around it
/// (signals, sd_notify, the watchdog, the control socket, the state store, the adapters) and
/// shuts it down in reverse start order. Everything it learns about the gateway comes from the
/// dispatcher's event stream.
actor Daemon: GatewayControlHost {
    let configPath: String
    let socketOverride: String?
    let logger: Logger
    let notifier = Notifier()
    let notifications: NotifyQueue
    /// STATUS=, kept from the dispatcher's events as they are published.
    let status: StatusTracker
    var config: GatewayConfig
    let dispatcher: Dispatcher
    /// The control socket's service; the daemon binds its server during the start.
    let control = ControlService()
    /// The control interface, kept to put reloaded permissions in force.
    var controlInterface: GatewayInterface?
    /// The control socket came from systemd (`gatewayd.socket`): `control.socket` is unused.
    var socketActivated = false
    /// The event loops of the control socket, the webhook and IRC.
    let eventLoops: any EventLoopGroup
    /// Why the daemon exits and how long adapters may still deliver, decided at the drain's end.
    let plan = ShutdownPlan()
    /// Set once the services run: a stop signal starts its graceful shutdown.
    private var group: ServiceGroup?
    /// The drain a graceful shutdown runs (a SIGUSR1 makes it a restart).
    var requestedDrain: DrainReason?
    /// READY=1 is out; before it, a SIGHUP waits (`reloadPending`) and runs right after.
    private var isReady = false
    private var reloadPending = false
    /// The durable queue under `state_dir`; nil when it could not be opened (then
    /// `status.storeProblem` says why).
    let store: StateStore?
    /// `state_dir`'s lock, held for the process's life (`InstanceGuard`); nil when it could not
    /// be taken, and then there is no store either.
    let stateLock: StateDirectoryLock?
    /// The network platforms, started before the control socket serves (READY=1 follows both),
    /// and changed one by one by a reload.
    let platforms: PlatformSet
    /// Where the adapters hand their messages: held until what the store kept is replayed.
    let gate: InboundGate
    /// The running configuration's revision and load time, for `GetStatus`.
    var applied: AppliedConfig {
        get { published.withLockedValue { $0.applied } }
        set { published.withLockedValue { $0.applied = newValue } }
    }
    /// What `GetStatus` reads of the daemon, readable without waiting for the actor (a status
    /// call then costs no hop to it, and none while a reload runs).
    nonisolated let published: NIOLockedValueBox<PublishedState>
    /// A reload under way: the next one waits for it (two must not change the adapters at once).
    var reloading = false
    var reloadWaiters: [CheckedContinuation<Void, Never>] = []
    /// `metrics.listen`'s HTTP listener, while it serves.
    var metricsListener: MetricsListener?

    /// The file was named with `--config`: a reload refuses it missing, as a start does.
    let configExplicit: Bool
    /// `--state-dir`: wins over the file's state_dir, at start and after every reload.
    let stateDirectoryOverride: String?

    /// `adapters` come built from the configuration (see `StartupCheck`); `run` starts them.
    /// `stateLock`: the state directory's lock (`InstanceGuard`); the store is opened only
    /// under it.
    init(configPath: String, configExplicit: Bool, config: GatewayConfig, revision: String?, adapters: [any PlatformAdapter],
         socketOverride: String?, stateDirectoryOverride: String?, stateLock: Result<StateDirectoryLock, StateDirectoryLockError>,
         eventLoops: any EventLoopGroup, logger: Logger) {
        self.eventLoops = eventLoops
        self.configPath = configPath
        self.configExplicit = configExplicit
        self.config = config
        published = NIOLockedValueBox(PublishedState(applied: AppliedConfig(revision: revision, loadedUsec: Int(WallClock.microseconds())),
                                          localEnabled: config.platforms.localEnabled, agentBackend: config.agent.backend))
        self.socketOverride = socketOverride
        self.stateDirectoryOverride = stateDirectoryOverride
        self.logger = logger
        notifications = NotifyQueue(notifier: notifier, logger: logger)
        status = StatusTracker(notify: notifications)
        ProcessRunner.raiseFileDescriptorLimit()
        switch stateLock {
        case .success(let lock):
            self.stateLock = lock
            let opening = StateStore.open(directory: config.stateDirectory, metrics: GatewayMetrics.shared) { problem in
                logger.error("state store write failed: \(problem)", metadata: ["event": "store_failed", "code": "\(problem.code.rawValue)"])
            }
            store = opening.store
            status.storeProblem = opening.problem
        case .failure(let problem):
            self.stateLock = nil
            store = nil
            status.storeProblem = problem.description
        }
        let agent = Self.makeAgent(config, store: store, eventLoops: eventLoops, logger: logger)
        dispatcher = Dispatcher(config: config, agent: agent, store: store, metrics: GatewayMetrics.shared)
        gate = InboundGate(dispatcher, cursors: store, ledger: store, metrics: GatewayMetrics.shared) { problem in
            logger.warning("\(problem)", metadata: ["event": "ledger_failed"])
        }
        platforms = PlatformSet(adapters: adapters, settings: config.platforms.network, inbound: gate, eventLoops: eventLoops, logger: logger)
        published.withLockedValue { $0.agent = agent }
    }

    /// The backend `agent` asks for. The OpenAI one keeps its history in the store (none when
    /// the store could not be opened: turns then go without earlier context).
    static func makeAgent(_ config: GatewayConfig, store: StateStore?, eventLoops: any EventLoopGroup,
                          logger: Logger) -> any AgentBackend {
        switch config.agent.backend {
        case .echo:
            return EchoAgent()
        case .openai:
            guard let settings = config.agent.openai else { return EchoAgent() }
            return OpenAIAgent(settings: settings, history: store, eventLoopGroup: eventLoops, logger: logger,
                               environment: ProcessEnvironment.all(), metrics: GatewayMetrics.shared)
        case .command:
            return CommandAgent(
                argv: config.agent.command, runner: ProcessRunner(maxConcurrent: 64),
                environment: ProcessRunner.minimalEnvironment.merging(["HOME": config.stateDirectory, "LANG": "C.UTF-8"]) { $1 },
                timeout: config.agent.turnTimeout)
        }
    }

    /// What serves now: `local` as the config says, and the adapters running (one that a
    /// reload could not start is not among them).
    nonisolated var platformNames: [String] {
        (published.withLockedValue { $0.localEnabled } ? [GatewayConstants.localPlatform] : []) + platforms.serving.map(\.name)
    }

    nonisolated var storeProblem: String? { status.storeProblem }

    nonisolated var configState: AppliedConfig? { published.withLockedValue { $0.applied } }

    nonisolated var agentState: (backend: String, endpoints: [AgentEndpointStatus])? {
        published.withLockedValue { state in state.agent.map { (state.agentBackend.rawValue, $0.endpointStatus()) } }
    }

    nonisolated func platformHealth() async -> [(name: String, health: PlatformHealth)] {
        var health: [(name: String, health: PlatformHealth)] = []
        if published.withLockedValue({ $0.localEnabled }) {
            health.append((GatewayConstants.localPlatform, PlatformHealth(.up, "the control socket's SendMessage")))
        }
        for adapter in platforms.serving { health.append((adapter.name, await adapter.health())) }
        // Configured but serving nothing (a reload could not start them): down, with why.
        for (name, reason) in platforms.down { health.append((name, PlatformHealth(.down, reason))) }
        return health
    }

    /// Runs the services until a stop or restart drain completes and every service has wound
    /// down; returns the exit status.
    func run() async -> Int32 {
        let gate = self.gate
        let startup = AdapterStartup(count: 1)
        func service(_ service: any Service, _ name: String) -> ServiceGroupConfiguration.ServiceConfiguration {
            // A service that ends (or fails) takes the others down in order, never by cancellation.
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                  failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: name)
        }
        // Started in this order, shut down in the reverse one: the drain first, then the
        // adapters' last replies, the store's last writes, the control socket, the watchdog,
        // the notifications (STOPPING=1, the last STATUS=), and the signals last of all.
        let services = [
            service(SignalService(signals: LifecycleSignals.reader.signals) { number in await self.handle(signal: number) }, "signals"),
            service(NotifyService(queue: notifications, status: status), "notify"),
            service(WatchdogService(dispatcher: dispatcher, notifications: notifications, logger: logger), "watchdog"),
            service(control, "control"),
            service(StoreService(store: store), "store"),
            service(PlatformsService(platforms: platforms, startup: startup, plan: plan, lanes: gate.lanes), "platforms"),
            service(DaemonService(daemon: self, gate: gate, startup: startup), "gateway"),
        ]
        var serviceLogger = logger
        serviceLogger.logLevel = .notice
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: serviceLogger))
        self.group = group
        do {
            try await group.run()
        } catch {
            if let failed = error as? StartupFailed { return failed.status }
            logger.critical("gatewayd stopped on an error: \(describeSystemError(error))", metadata: ["event": "failed"])
            return GatewayConstants.ExitStatus.failure
        }
        let reason = plan.reason
        logger.info("drained; exiting", metadata: [
            "event": "stopped", "reason": "\(reason.rawValue)", "MESSAGE_ID": "\(GatewayMessageID.stopped)",
        ])
        return reason == .restart ? GatewayConstants.ExitStatus.restartRequested : GatewayConstants.ExitStatus.success
    }

    /// The gateway's own part, the last service: the start in its order (adapters, what the
    /// store kept, the dispatcher, the control socket, READY=1), then the wait for a drain to
    /// end. A graceful shutdown (SIGTERM, SIGINT, SIGUSR1) begins the drain, even one that came
    /// during the start: the start then does not wait for the adapters to connect, and the drain
    /// follows READY=1 at once. Returning hands over to the services before it.
    func serve(gate: InboundGate, startup: AdapterStartup) async throws {
        // The journal records and STATUS= follow the events from the dispatcher itself (no
        // task woken per message or quick command); this one wakes for the drain.
        let journal = EventJournal(logger: logger), status = self.status
        await dispatcher.observe { event in
            journal.record(event)
            status.follow(event)
        }
        let auditLogger = logger
        await dispatcher.setAuditSink { $0.log(to: auditLogger) }
        let events = await dispatcher.subscribe {
            switch $0 {
            case .drained, .stateChanged(.draining): true
            default: false
            }
        }
        let (shutdownRequests, requestShutdown) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        try await withGracefulShutdownHandler {
            // Adapters first (bounded wait for them to connect, cut short by a stop), then what
            // the store kept: replayed turns and restart notices need a connection to go out
            // on. Messages that arrive meanwhile wait at the gate, so none overtakes a replayed
            // one of its session.
            guard await startup.allStarted() else { throw StartupFailed() }
            let adapters = platforms.serving
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    for adapter in adapters { group.addTask { await adapter.waitUntilReady(within: GatewayConstants.platformReadyWait) } }
                }
            }
            for adapter in adapters {
                let health = await adapter.health()
                logger.info("platform \(adapter.name): \(health.detail)", metadata: ["event": "platform", "platform": "\(adapter.name)"])
            }
            await recoverState()
            await dispatcher.markRunning()
            gate.open()
            do {
                try await startControlSocket()
            } catch {
                // Another gatewayd bound it since the start's check (`InstanceGuard`): 78, as then.
                let taken = (error as? VarlinkSocketError)?.code == EADDRINUSE
                if taken, let path = Self.controlSocketPath(config, override: socketOverride) {
                    InstanceGuard.reportSocketInUse(path: path, holder: VarlinkServer.listeningProcess(at: path), logger: logger)
                } else {
                    logger.critical("cannot serve the control socket: \(describeSystemError(error))", metadata: ["event": "socket_failed"])
                }
                // The adapters are up and turns may run: interrupt them; the adapters then
                // leave the networks properly (IRC's QUIT), not by the process vanishing.
                await dispatcher.interruptTurnsNow()
                throw StartupFailed(status: taken ? GatewayConstants.ExitStatus.configInvalid : GatewayConstants.ExitStatus.failure)
            }
            await startMetricsListener()
            let readyLine = status.reset(to: await dispatcher.snapshot, platformCount: await platformNames.count)
            notify { try $0.ready(status: readyLine) }
            isReady = true
            logger.info("gatewayd \(GatewayConstants.version) ready", metadata: ["event": "started", "MESSAGE_ID": "\(GatewayMessageID.started)"])
            if reloadPending {
                reloadPending = false
                _ = try? await reloadConfiguration(check: false, text: nil)
            }
            await withTaskGroup(of: Void.self) { group in
                // The drain a graceful shutdown asks for; a drain begun otherwise (gatewayctl
                // stop or restart) ends the wait as well.
                group.addTask {
                    for await _ in shutdownRequests {
                        await self.beginRequestedDrain()
                        break
                    }
                }
                await waitForDrain(events)
                group.cancelAll()
            }
        } onGracefulShutdown: {
            requestShutdown.yield()
        }
        await dispatcher.markStopping()
        await stopMetricsListener()
    }

    /// Returns once a stop or restart drain is over, having decided what follows (`plan`).
    private func waitForDrain(_ events: AsyncStream<GatewayEvent>) async {
        var drainStarted = ContinuousClock.now
        for await event in events {
            if case .stateChanged = event { drainStarted = .now }
            if case .drained(let reason) = event, reason != .admin {
                // Queued replies (the end of a long one, the "interrupted" notices) may go out
                // for the rest of the drain's time, and a little more: systemd's stop timeout
                // has that margin.
                let flush = max(.zero, drainStarted + config.drain.timeout - .now) + GatewayConstants.replyFlushMargin
                plan.decide(reason: reason, flushWindow: flush)
                return
            }
        }
    }

    /// A stop signal: the services' graceful shutdown, which begins with the drain.
    func requestShutdown(_ reason: DrainReason) async {
        if requestedDrain == nil { requestedDrain = reason }
        await group?.triggerGracefulShutdown()
    }

    private func beginRequestedDrain() async {
        await beginDrain(requestedDrain ?? .stop)
    }

    func beginDrain(_ reason: DrainReason) async {
        guard await dispatcher.beginDrain(reason) else { return }
        let line = status.beginDrain(until: .now + config.drain.timeout, snapshot: await dispatcher.snapshot)
        notify { try $0.stopping(status: line) }
    }

    /// A SIGHUP before READY=1 is run right after it; one during a stop or restart is ignored
    /// (a reload then would say RELOADING=1 and READY=1 after STOPPING=1).
    func reloadWhenReady() async {
        if let reason = await stopUnderWay() {
            logger.notice("reload ignored: the gateway is \(reason.gerund)", metadata: ["event": "reload_ignored"])
            return
        }
        guard isReady else {
            reloadPending = true
            return
        }
        _ = try? await reloadConfiguration(check: false, text: nil)
    }

    func notify(_ body: @escaping @Sendable (Notifier) throws -> Void) {
        notifications.send(body)
    }
}

/// The daemon's start and drain as the group's last service (see `Daemon.serve`).
struct DaemonService: Service {
    let daemon: Daemon
    let gate: InboundGate
    let startup: AdapterStartup

    func run() async throws {
        try await daemon.serve(gate: gate, startup: startup)
    }
}

/// The daemon's state that `GetStatus` reads (see `Daemon.published`).
struct PublishedState: Sendable {
    var applied: AppliedConfig
    var localEnabled: Bool
    /// The backend turns start on now (set once the daemon is built, swapped by a reload).
    var agent: (any AgentBackend)?
    var agentBackend: AgentConfig.Backend
    /// The control interface once it serves: `/readyz` reads the status through it without
    /// waiting for the Daemon actor (which a reload or the start may hold for a while).
    var interface: GatewayInterface?
}

/// Why the control socket cannot be served.
struct ControlSocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
