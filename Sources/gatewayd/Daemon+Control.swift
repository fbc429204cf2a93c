import GatewayControl
import GatewayCore
import Logging
import Systemd
import Varlink
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    // MARK: Control socket

    func startControlSocket() async throws {
        let interface = GatewayInterface(
            dispatcher: dispatcher, host: self, permissions: controlPermissions(config), logger: logger)
        let server = VarlinkServer(
            info: VarlinkServiceInfo(vendor: "gatewayd", product: "gatewayd", version: GatewayConstants.version,
                                     url: "https://varlink.org"),
            interfaces: [interface], logger: logger, eventLoops: eventLoops)
        if let activated = try SocketActivation.listener(named: GatewayConstants.controlSocketName) {
            try await server.adopt(listeningDescriptor: activated.fileDescriptor)
            socketActivated = true
            logger.info("control socket passed by systemd", metadata: ["event": "socket", "fd": "\(activated.fileDescriptor)"])
        } else {
            guard let path = Self.controlSocketPath(config, override: socketOverride) else {
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
        control.serve(server)
        controlInterface = interface
        published.withLockedValue { $0.interface = interface }
    }

    /// The socket the daemon binds when systemd passes none: `--socket`, else the file's
    /// control.socket, unless it is the default: then a per-user one for a gatewayd started by
    /// hand as a normal user (DefaultPaths). nil when there is none (no XDG_RUNTIME_DIR).
    static func controlSocketPath(_ config: GatewayConfig, override: String?) -> String? {
        override ?? (config.control.socket == GatewayConstants.defaultControlSocket ? DefaultPaths.daemonSocket() : config.control.socket)
    }

    /// Puts reloaded permissions in force, and gives a socket the daemon bound itself the new
    /// admin group (members of the new group could not open it otherwise).
    func applyControlPermissions(_ permissions: ControlPermissions) {
        guard let interface = controlInterface else { return }
        let previous = interface.permissions.adminGroupID
        interface.replacePermissions(permissions)
        guard let groupID = permissions.adminGroupID, groupID != previous, let group = permissions.adminGroup,
              let problem = control.current?.changeSocketGroup(to: groupID) else { return }
        let path = control.current?.boundPath ?? ""
        logger.warning("\(GatewayText.socketGroupNotApplied(path: path, group: group, mode: config.control.socketMode, reason: String(cString: strerror(problem.code)), onReload: true))",
                       metadata: ["event": "socket_group", "path": "\(path)"])
    }

    /// Who may steer the daemon under `config`, resolved now (the admin group by name); a group
    /// that does not exist is logged.
    func controlPermissions(_ config: GatewayConfig) -> ControlPermissions {
        let permissions = ControlPermissions(adminGroup: config.control.adminGroup)
        if let problem = permissions.adminGroupProblem {
            logger.warning("\(problem)", metadata: ["event": "config_warning"])
        }
        return permissions
    }

    // MARK: State store

    /// Takes up what the previous process left: replays, notices, sessions. A store that fails
    /// here is dropped for this run (the gateway serves without durability, and says so).
    func recoverState() async {
        if let problem = status.storeProblem {
            logger.error("\(problem)", metadata: ["event": "store_problem", "MESSAGE_ID": "\(GatewayMessageID.storeProblem)"])
        }
        guard let store else { return }
        do {
            let recovery = try await store.recover(policy: RecoveryPolicy(maxSessions: await dispatcher.config.sessions.max))
            let outbox = DaemonOutbox(logger: logger, adapters: platforms.serving, ledger: store, lanes: gate.lanes)
            // What an earlier process left unsent goes before the replies to what it replays.
            await outbox.resendUnsent()
            await dispatcher.restore(recovery, outbox: outbox)
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

}
