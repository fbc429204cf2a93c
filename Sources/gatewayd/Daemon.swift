import GatewayControl
import GatewayCore
import Logging
import Platforms
import ProcessRunner
import StateStore
import Systemd
import Varlink
#if canImport(Glibc)
import Glibc
#endif

/// The running daemon: the dispatcher, the control socket, signals, and what systemd is told.
/// Everything it learns about the gateway comes from the dispatcher's event stream.
actor Daemon: GatewayControlHost {
    let configPath: String
    let socketOverride: String?
    let logger: Logger
    let notifier = Notifier()
    private let notifications: NotifyQueue
    /// STATUS=, kept from the dispatcher's events as they are published.
    private let status: StatusTracker
    private(set) var config: GatewayConfig
    let dispatcher: Dispatcher
    private var server: VarlinkServer?
    /// The durable queue under `state_dir`; nil when it could not be opened (then
    /// `status.storeProblem` says why).
    let store: StateStore?
    /// The network platforms, started after the control socket (READY=1 follows them).
    private var adapters: [any PlatformAdapter] = []

    /// `adapters` come built from the configuration (see `StartupCheck`); `run` starts them.
    init(configPath: String, config: GatewayConfig, adapters: [any PlatformAdapter], socketOverride: String?, logger: Logger) {
        self.configPath = configPath
        self.config = config
        self.adapters = adapters
        self.socketOverride = socketOverride
        self.logger = logger
        notifications = NotifyQueue(notifier: notifier, logger: logger)
        status = StatusTracker(notify: notifications)
        ProcessRunner.raiseFileDescriptorLimit()
        let opening = StateStore.open(directory: config.stateDirectory) { problem in
            logger.error("state store write failed: \(problem)", metadata: ["event": "store_failed", "code": "\(problem.code.rawValue)"])
        }
        store = opening.store
        status.storeProblem = opening.problem
        dispatcher = Dispatcher(config: config, agent: Self.makeAgent(config), store: opening.store)
    }

    /// The adapters the config asks for; a bad setting is a config error (exit 78).
    static func makeAdapters(_ config: GatewayConfig) throws -> [any PlatformAdapter] {
        var adapters: [any PlatformAdapter] = []
        if let settings = config.platforms.irc {
            adapters.append(try IRCAdapter(configuration: try IRCConfiguration(settings: settings)))
        }
        if let settings = config.platforms.webhook {
            adapters.append(WebhookAdapter(configuration: try WebhookConfiguration(settings: settings)))
        }
        return adapters
    }

    static func makeAgent(_ config: GatewayConfig) -> any AgentBackend {
        switch config.agent.backend {
        case .echo, .openai:
            return EchoAgent()
        case .command:
            return CommandAgent(
                argv: config.agent.command, runner: ProcessRunner(maxConcurrent: 64),
                environment: ProcessRunner.minimalEnvironment.merging(["HOME": config.stateDirectory, "LANG": "C.UTF-8"]) { $1 },
                timeout: config.agent.turnTimeout)
        }
    }

    /// What serves now: `local` as the config says, and the adapters started (a reload does not
    /// start or stop adapters, so they are the truth, not the new file).
    var platformNames: [String] {
        (config.platforms.localEnabled ? [GatewayConstants.localPlatform] : []) + adapters.map(\.name)
    }

    func platformHealth() async -> [(name: String, health: PlatformHealth)] {
        var health: [(name: String, health: PlatformHealth)] = []
        if config.platforms.localEnabled {
            health.append((GatewayConstants.localPlatform, PlatformHealth(.up, "the control socket's SendMessage")))
        }
        for adapter in adapters { health.append((adapter.name, await adapter.health())) }
        return health
    }

    /// Runs until a stop or restart drain completes; returns the exit status.
    func run() async -> Int32 {
        // The dispatcher runs before the socket serves, so the first call (the one that may have
        // socket-activated us) already sees `running`; READY=1 follows the socket.
        // The journal records and STATUS= follow the events from the dispatcher itself (no
        // task woken per message or quick command); this one wakes for the end of a drain.
        let journal = EventJournal(logger: logger), status = self.status
        await dispatcher.observe { event in
            journal.record(event)
            status.follow(event)
        }
        let events = await dispatcher.subscribe { if case .drained = $0 { true } else { false } }
        await recoverState()
        await dispatcher.markRunning()
        do {
            try await startControlSocket()
        } catch {
            logger.critical("cannot serve the control socket: \(error)", metadata: ["event": "socket_failed"])
            return GatewayConstants.ExitStatus.failure
        }
        for adapter in adapters {
            do {
                try await adapter.start(inbound: dispatcher)
                let health = await adapter.health()
                logger.info("platform \(adapter.name): \(health.detail)", metadata: ["event": "platform", "platform": "\(adapter.name)"])
            } catch {
                logger.critical("platform \(adapter.name) cannot start: \(error)", metadata: ["event": "platform_failed", "platform": "\(adapter.name)"])
                return GatewayConstants.ExitStatus.failure
            }
        }
        let readyLine = status.reset(to: await dispatcher.snapshot, platformCount: platformNames.count)
        notify { try $0.ready(status: readyLine) }
        logger.info("gatewayd \(GatewayConstants.version) ready", metadata: ["event": "started", "MESSAGE_ID": "\(GatewayMessageID.started)"])
        startSignalHandling()
        startWatchdog()

        var exitReason = DrainReason.stop
        for await event in events {
            if case .drained(let reason) = event, reason != .admin {
                exitReason = reason
                break
            }
        }
        await dispatcher.markStopping()
        for adapter in adapters { await adapter.stop() }
        await store?.flush()
        await notifications.flush()
        logger.info("drained; exiting", metadata: [
            "event": "stopped", "reason": "\(exitReason.rawValue)", "MESSAGE_ID": "\(GatewayMessageID.stopped)",
        ])
        await server?.shutdown()
        return exitReason == .restart ? GatewayConstants.ExitStatus.restartRequested : GatewayConstants.ExitStatus.success
    }

    // MARK: Control socket

    private func startControlSocket() async throws {
        let interface = GatewayInterface(
            dispatcher: dispatcher, host: self, permissions: ControlPermissions(adminGroup: config.control.adminGroup))
        let server = VarlinkServer(
            info: VarlinkServiceInfo(vendor: "gatewayd", product: "gatewayd", version: GatewayConstants.version,
                                     url: "https://varlink.org"),
            interfaces: [interface])
        if let activated = try SocketActivation.listener(named: GatewayConstants.controlSocketName) {
            try await server.adopt(listeningDescriptor: activated.fileDescriptor)
            logger.info("control socket passed by systemd", metadata: ["event": "socket", "fd": "\(activated.fileDescriptor)"])
        } else {
            let path = socketOverride ?? config.control.socket
            let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if !directory.isEmpty { mkdir(directory, 0o755) }
            let group = config.control.adminGroup.flatMap { getgrnam($0)?.pointee.gr_gid }
            try await server.bind(path: path, mode: config.control.socketMode, groupID: group)
            logger.info("control socket at \(path)", metadata: ["event": "socket", "path": "\(path)"])
        }
        self.server = server
    }

    // MARK: Signals, reload, watchdog

    private func startSignalHandling() {
        let testHooks = getenv(GatewayConstants.Environment.testHooks).map { String(cString: $0) == "1" } ?? false
        let signals = SignalStream([SIGTERM, SIGINT, SIGUSR1, SIGHUP] + (testHooks ? [SIGUSR2] : []))
        Task {
            for await number in signals.stream { await self.handle(signal: number) }
        }
    }

    private func handle(signal number: Int32) async {
        switch number {
        case SIGUSR2:
            logger.warning("test hook: wedging the dispatcher", metadata: ["event": "test_wedge"])
            let dispatcher = self.dispatcher
            Task.detached { await dispatcher.wedgeForTesting() }
        case SIGHUP:
            try? await reloadConfiguration()
        case SIGUSR1:
            await beginDrain(.restart)
        default:
            let state = await dispatcher.state
            if state.refusesNewWork && state.reason != .admin {
                logger.notice("second stop signal: interrupting the remaining turns now", metadata: ["event": "stop_now"])
                await dispatcher.interruptTurnsNow()
            } else {
                await beginDrain(.stop)
            }
        }
    }

    private func beginDrain(_ reason: DrainReason) async {
        guard await dispatcher.beginDrain(reason) else { return }
        let line = status.beginDrain(until: .now + config.drain.timeout, snapshot: await dispatcher.snapshot)
        notify { try $0.stopping(status: line) }
    }

    func reloadConfiguration() async throws(ConfigError) {
        notify { try $0.reloading(status: "Reloading") }
        do {
            let outcome = try ConfigLoader.load(path: configPath)
            for warning in outcome.warnings {
                logger.warning("\(configPath): \(warning)", metadata: ["event": "config_warning"])
            }
            config = outcome.config
            await dispatcher.reload(outcome.config)
            logger.info("configuration reloaded from \(configPath)", metadata: ["event": "reload", "MESSAGE_ID": "\(GatewayMessageID.reloaded)"])
        } catch let error as ConfigError {
            logger.error("reload refused, the old configuration stays: \(error)", metadata: [
                "event": "reload_failed", "MESSAGE_ID": "\(GatewayMessageID.reloadRefused)",
            ])
            let line = status.lastLine
            notify { try $0.ready(status: line) }
            throw error
        } catch {
            let line = status.lastLine
            notify { try $0.ready(status: line) }
            throw ConfigError(file: configPath, problems: [])
        }
        let line = status.reset(to: await dispatcher.snapshot, platformCount: platformNames.count)
        notify { try $0.ready(status: line) }
    }

    private func startWatchdog() {
        let interval: Duration?
        do {
            interval = try Watchdog.pingInterval()
        } catch {
            logger.error("watchdog: \(error)", metadata: ["event": "watchdog"])
            return
        }
        guard let interval else { return }
        let dispatcher = self.dispatcher, notifier = self.notifier
        Task.detached {
            while true {
                try? await Task.sleep(for: interval)
                // Only a dispatcher that answers is alive: a wedged one gets no ping, and systemd
                // restarts the service.
                guard await dispatcher.ping() else { continue }
                try? notifier.watchdogPing()
            }
        }
    }

    // MARK: State store

    /// Takes up what the previous process left: replays, notices, sessions. A store that fails
    /// here is dropped for this run (the gateway serves without durability, and says so).
    private func recoverState() async {
        if let problem = status.storeProblem {
            logger.error("\(problem)", metadata: ["event": "store_problem", "MESSAGE_ID": "\(GatewayMessageID.storeProblem)"])
        }
        guard let store else { return }
        do {
            let recovery = try await store.recover(policy: RecoveryPolicy())
            await dispatcher.restore(recovery, outbox: DaemonOutbox(logger: logger, adapters: adapters))
            if !recovery.replay.isEmpty || !recovery.abandoned.isEmpty || !recovery.restartNotices.isEmpty {
                logger.notice("state store: \(recovery.replay.count) message(s) to replay, \(recovery.abandoned.count) given up, \(recovery.restartNotices.count) restart notice(s)", metadata: [
                    "event": "recovered", "replay": "\(recovery.replay.count)", "abandoned": "\(recovery.abandoned.count)",
                    "path": "\(store.path)",
                ])
            }
        } catch {
            let problem = "state store \(store.path) unreadable: \(error.message); queued messages from before are not replayed"
            status.storeProblem = problem
            logger.error("\(problem)", metadata: ["event": "store_problem", "MESSAGE_ID": "\(GatewayMessageID.storeProblem)"])
        }
    }

    private func notify(_ body: @escaping @Sendable (Notifier) throws -> Void) {
        notifications.send(body)
    }
}
