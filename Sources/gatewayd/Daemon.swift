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
    /// The control interface, kept to put reloaded permissions in force.
    private var controlInterface: GatewayInterface?
    /// The durable queue under `state_dir`; nil when it could not be opened (then
    /// `status.storeProblem` says why).
    let store: StateStore?
    /// The network platforms, started before the control socket serves (READY=1 follows both).
    private var adapters: [any PlatformAdapter] = []

    /// The file was named with `--config`: a reload refuses it missing, as a start does.
    let configExplicit: Bool
    /// `--state-dir`: wins over the file's state_dir, at start and after every reload.
    let stateDirectoryOverride: String?

    /// `adapters` come built from the configuration (see `StartupCheck`); `run` starts them.
    init(configPath: String, configExplicit: Bool, config: GatewayConfig, adapters: [any PlatformAdapter], socketOverride: String?,
         stateDirectoryOverride: String?, logger: Logger) {
        self.configPath = configPath
        self.configExplicit = configExplicit
        self.config = config
        self.adapters = adapters
        self.socketOverride = socketOverride
        self.stateDirectoryOverride = stateDirectoryOverride
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
    /// What `makeAdapters` would refuse, without building anything (an adapter owns a thread).
    static func checkAdapters(_ config: GatewayConfig) throws {
        if let settings = config.platforms.irc { _ = try IRCAdapter.tlsContext(try IRCConfiguration(settings: settings)) }
        if let settings = config.platforms.webhook { _ = try WebhookConfiguration(settings: settings) }
    }

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

    var storeProblem: String? { status.storeProblem }

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
        // Caught from the first moment, handled once READY=1 is out: a `systemctl stop` while
        // gatewayd is still starting gets a drain and exit 0, not the default action's death.
        let signals = Self.catchSignals()
        // The journal records and STATUS= follow the events from the dispatcher itself (no
        // task woken per message or quick command); this one wakes for the end of a drain.
        let journal = EventJournal(logger: logger), status = self.status
        await dispatcher.observe { event in
            journal.record(event)
            status.follow(event)
        }
        let events = await dispatcher.subscribe {
            switch $0 {
            case .drained, .stateChanged(.draining): true
            default: false
            }
        }
        // Adapters first (bounded wait for them to connect), then what the store kept: replayed
        // turns and restart notices need a connection to go out on. Messages that arrive
        // meanwhile wait at the gate, so none overtakes a replayed one of its session.
        let gate = InboundGate(dispatcher)
        for adapter in adapters {
            do {
                try await adapter.start(inbound: gate)
            } catch {
                logger.critical("platform \(adapter.name) cannot start: \(describeSystemError(error))", metadata: ["event": "platform_failed", "platform": "\(adapter.name)"])
                return GatewayConstants.ExitStatus.failure
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for adapter in adapters { group.addTask { await adapter.waitUntilReady(within: GatewayConstants.platformReadyWait) } }
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
            logger.critical("cannot serve the control socket: \(describeSystemError(error))", metadata: ["event": "socket_failed"])
            // The adapters are up and turns may run: interrupt them and leave the networks
            // properly (IRC's QUIT), not by the process vanishing.
            await dispatcher.interruptTurnsNow()
            await withTaskGroup(of: Void.self) { group in
                for adapter in adapters { group.addTask { await adapter.stop(flushingWithin: GatewayConstants.replyFlushMargin) } }
            }
            await store?.flush()
            return GatewayConstants.ExitStatus.failure
        }
        let readyLine = status.reset(to: await dispatcher.snapshot, platformCount: platformNames.count)
        notify { try $0.ready(status: readyLine) }
        logger.info("gatewayd \(GatewayConstants.version) ready", metadata: ["event": "started", "MESSAGE_ID": "\(GatewayMessageID.started)"])
        handleSignals(signals)
        startWatchdog()

        var exitReason = DrainReason.stop
        var drainStarted = ContinuousClock.now
        for await event in events {
            if case .stateChanged = event { drainStarted = .now }
            if case .drained(let reason) = event, reason != .admin {
                exitReason = reason
                break
            }
        }
        await dispatcher.markStopping()
        // Queued replies (the end of a long one, the "interrupted" notices) may go out for the
        // rest of the drain's time, and a little more: systemd's stop timeout has that margin.
        let flush = max(.zero, drainStarted + config.drain.timeout - .now) + GatewayConstants.replyFlushMargin
        await withTaskGroup(of: Void.self) { group in
            for adapter in adapters { group.addTask { await adapter.stop(flushingWithin: flush) } }
        }
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
            dispatcher: dispatcher, host: self, permissions: controlPermissions(config), logger: logger)
        let server = VarlinkServer(
            info: VarlinkServiceInfo(vendor: "gatewayd", product: "gatewayd", version: GatewayConstants.version,
                                     url: "https://varlink.org"),
            interfaces: [interface], logger: logger)
        if let activated = try SocketActivation.listener(named: GatewayConstants.controlSocketName) {
            try await server.adopt(listeningDescriptor: activated.fileDescriptor)
            logger.info("control socket passed by systemd", metadata: ["event": "socket", "fd": "\(activated.fileDescriptor)"])
        } else {
            // The file's control.socket, unless it is the default: then a per-user one for a
            // gatewayd started by hand as a normal user (DefaultPaths).
            let configured = config.control.socket == GatewayConstants.defaultControlSocket ? DefaultPaths.daemonSocket() : config.control.socket
            guard let path = socketOverride ?? configured else {
                throw ControlSocketError("no control socket: XDG_RUNTIME_DIR is not set; give one with --socket PATH or control.socket")
            }
            let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if !directory.isEmpty { mkdir(directory, 0o755) }
            let permissions = interface.permissions
            let mode = config.control.socketMode
            // A group that cannot be applied leaves the socket with the daemon's own group: the
            // operator is told why, and root and the daemon's user can still steer it.
            if let problem = try await server.bind(path: path, mode: mode, groupID: permissions.adminGroupID),
               let group = permissions.adminGroup {
                logger.warning("\(GatewayText.socketGroupNotApplied(path: path, group: group, mode: mode, reason: String(cString: strerror(problem.code)), onReload: false))",
                               metadata: ["event": "socket_group", "path": "\(path)"])
            }
            logger.info("control socket at \(path)", metadata: ["event": "socket", "path": "\(path)"])
        }
        self.server = server
        controlInterface = interface
    }

    /// Puts reloaded permissions in force, and gives a socket the daemon bound itself the new
    /// admin group (members of the new group could not open it otherwise).
    private func applyControlPermissions(_ permissions: ControlPermissions) {
        guard let interface = controlInterface else { return }
        let previous = interface.permissions.adminGroupID
        interface.replacePermissions(permissions)
        guard let groupID = permissions.adminGroupID, groupID != previous, let group = permissions.adminGroup,
              let problem = server?.changeSocketGroup(to: groupID) else { return }
        let path = server?.boundPath ?? ""
        logger.warning("\(GatewayText.socketGroupNotApplied(path: path, group: group, mode: config.control.socketMode, reason: String(cString: strerror(problem.code)), onReload: true))",
                       metadata: ["event": "socket_group", "path": "\(path)"])
    }

    /// Who may steer the daemon under `config`, resolved now (the admin group by name); a group
    /// that does not exist is logged.
    private func controlPermissions(_ config: GatewayConfig) -> ControlPermissions {
        let permissions = ControlPermissions(adminGroup: config.control.adminGroup)
        if let problem = permissions.adminGroupProblem {
            logger.warning("\(problem)", metadata: ["event": "config_warning"])
        }
        return permissions
    }

    // MARK: Signals, reload, watchdog

    private static func catchSignals() -> SignalStream {
        let testHooks = getenv(GatewayConstants.Environment.testHooks).map { String(cString: $0) == "1" } ?? false
        return SignalStream([SIGTERM, SIGINT, SIGUSR1, SIGHUP] + (testHooks ? [SIGUSR2] : []))
    }

    private func handleSignals(_ signals: SignalStream) {
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
            // The check a start runs (a missing --config file, the adapters' own settings): a
            // file that would not start is refused here, not at the next restart.
            let checked = try StartupCheck(path: configPath, explicit: configExplicit)
            let outcome = checked.outcome
            for warning in checked.warnings {
                logger.warning("\(configPath): \(warning)", metadata: ["event": "config_warning"])
            }
            var reloaded = outcome.config
            if let stateDirectoryOverride { reloaded.stateDirectory = stateDirectoryOverride }
            config = reloaded
            await dispatcher.reload(reloaded)
            // control.admin_group as the new file says, and the group database says now.
            applyControlPermissions(controlPermissions(reloaded))
            let source = fileExists(configPath) ? "from \(configPath)" : "(no file at \(configPath): built-in defaults)"
            logger.info("configuration reloaded \(source)", metadata: ["event": "reload", "MESSAGE_ID": "\(GatewayMessageID.reloaded)"])
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

/// Why the control socket cannot be served.
struct ControlSocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
