import GatewayWire

/// Names and defaults that tools, tests and operators rely on, kept in one place (see docs/DESIGN.md).
package enum GatewayConstants {
    /// The facts gatewayctl shares live in GatewayWire (`GatewayProduct`, `ControlSocket`,
    /// `GatewayEnvironment`); these name them for the daemon's code.
    package static let version = GatewayProduct.version
    /// `SYSLOG_IDENTIFIER` of every journal record.
    package static let syslogIdentifier = "gatewayd"
    /// Prefix of the journal fields made from log metadata (`session` -> `GATEWAY_SESSION`).
    package static let journalFieldPrefix = GatewayProduct.journalFieldPrefix
    package static let defaultConfigPath = "/etc/gatewayd/gatewayd.yaml"
    package static let defaultControlSocket = ControlSocket.systemPath

    /// Environment variables read by gatewayd and gatewayctl.
    package typealias Environment = GatewayEnvironment

    /// Process exit statuses with a meaning for systemd (`RestartForceExitStatus=`,
    /// `RestartPreventExitStatus=`).
    package enum ExitStatus {
        package static let success: Int32 = 0
        /// The daemon could not start (the control socket could not be served, ...).
        package static let failure: Int32 = 1
        package static let restartRequested: Int32 = 75
        package static let configInvalid: Int32 = 78
    }
}

extension GatewayConstants {
    /// An alias may rewrite a message at most this many times (a loop is an error reply).
    package static let maxAliasRewrites = 8
    /// Busy acknowledgements are sent at most once per this long per session.
    package static let busyAckInterval: Duration = .seconds(30)
}

extension GatewayConstants {
    /// At start, how long the daemon waits for the adapters to connect (IRC registration) before
    /// it replays what the state store kept, so the first replies have somewhere to go.
    package static let platformReadyWait: Duration = .seconds(5)
    /// At exit, queued replies may go out for the drain's remaining time plus this (less than
    /// `stopTimeoutMargin`, which systemd's stop timeout is extended by).
    package static let replyFlushMargin: Duration = .seconds(5)
}

extension GatewayConstants {
    /// A stranger (not in `access`) is told "not allowed" at most once per this long...
    package static let refusalNoticeInterval: Duration = .seconds(600)
    /// ...and at most this many strangers are remembered for it (the oldest are forgotten).
    package static let refusalNoticeMemory = 4096
}

extension GatewayConstants {
    /// IRC adapter limits. Lines waiting to be sent (replies split into PRIVMSGs): per target
    /// (a nick or a channel) and in all; past them lines are dropped and counted in the log.
    package enum IRC {
        package static let queuedLinesPerTarget = 200
        package static let queuedLinesTotal = 2000
        /// Incoming messages being handled at once; past it new ones are dropped (and counted).
        package static let maxInboundInFlight = 4096
        /// How long `stop()` waits for queued lines when the caller gives no bound.
        package static let stopFlushDefault: Duration = .seconds(5)
        /// `tls_ca_file`: a bundle of PEM certificates (Debian's whole bundle is about 220 KiB).
        package static let maxCAFileBytes = 4 << 20
        /// Registration (CAP, SASL, NICK/USER up to the welcome) must finish within this.
        package static let registrationTimeout: Duration = .seconds(30)
        /// A WHOIS that confirms who holds a nick before a private reply goes to it: answer
        /// within this, and trusted for this long after.
        package static let whoisTimeout: Duration = .seconds(10)
        package static let whoisValidity: Duration = .seconds(30)
        /// A private reply that goes out within this of its message needs no WHOIS when the
        /// nick was not seen changing hands: the message itself showed who held it. A reply
        /// after a turn of the agent or a slow command is confirmed first (the gateway sees NICK
        /// and QUIT only from people who share a channel with it). Answers that need no turn
        /// (refusals, built-ins, quick commands) come well within it.
        package static let unconfirmedReplyWindow: Duration = .seconds(3)
        /// Registered under a fallback nick (`gatewayd_`: the configured one was taken), the bot
        /// asks for its own again this often, and at once when it sees the holder leave it.
        package static let nickRegainInterval: Duration = .seconds(60)
        /// WHOIS asked and not yet answered, at most (each also takes a token of the flood limit);
        /// replies to others than admins may hold half of them.
        package static let maxPendingWhois = 16
        /// Nicks remembered as having changed hands (NICK, QUIT) on the current connection.
        package static let departuresRemembered = 4096
        /// Channels the server says the bot is in, remembered (for the health detail) beyond the
        /// configured ones: a server may join the bot to any number of them, and the list (and
        /// the detail rebuilt at each JOIN) must not grow with it.
        package static let maxOtherChannelsJoined = 64
        /// `flood_per_second` and `flood_burst` above these are surely typos.
        package static let maxFloodPerSecond = 1000.0
        package static let maxFloodBurst = 1000
        /// The IRCv3 capabilities asked for (`sasl` too when `sasl_user` is set).
        package static let capabilities = ["account-tag", "extended-join", "account-notify"]
    }
}

extension GatewayConstants {
    /// The platform name of messages sent over the control socket.
    package static let localPlatform = "local"
    /// The platform name of IRC messages (`irc:~account` in `access`).
    package static let ircPlatform = "irc"
    /// The platform name of webhook deliveries (`webhook:<user>` in `access`).
    package static let webhookPlatform = "webhook"
    /// The platform name of Telegram messages (`telegram:<user id>` in `access`).
    package static let telegramPlatform = "telegram"
    /// The platform name of Matrix messages (`matrix:@user:server` in `access`).
    package static let matrixPlatform = "matrix"
}

extension GatewayConstants {
    /// The outbound delivery ledger (`ReplyLedger`).
    package enum Ledger {
        /// Sends begun per reply, the first included.
        package static let maxAttempts = 3
        /// A reply not taken within this is given up.
        package static let maxAge: Duration = .seconds(24 * 3600)
    }
}

extension GatewayConstants {
    /// `FileDescriptorName=` of the control socket in gatewayd.socket.
    package static let controlSocketName = "control"
    /// Stop-timeout extensions reach this far past the drain's own deadline.
    package static let stopTimeoutMargin: Duration = .seconds(15)
}

/// Stable `MESSAGE_ID`s of the key journal records, with entries in contrib/gatewayd.catalog
/// (`journalctl -x` shows them; `journalctl MESSAGE_ID=...` finds every occurrence).
package enum GatewayMessageID {
    package static let started = "29c800f8beb445b9b2a34d6d42a4730b"
    package static let draining = "291ccce99a0546b8b4213bcf24cb1ec7"
    package static let stopped = "7ff161393d8a4aa3ae66ab028f5a3125"
    package static let reloaded = "a072a5f351ab48b18ba1175bf5512b02"
    package static let reloadRefused = "57438b8e4c1a47e39a34333fe6bbbe8d"
    package static let quickCommand = "ca6705d160e849389c72632fd57afbdc"
    package static let configInvalid = "2ef2ce96e70d49159ed5dd9cd1ed7a3e"
    package static let instanceConflict = "e1c15099e83b420e82f03399cde6347b"
    package static let storeProblem = "e8ea41e422db4266b9e4caf090148db8"
    /// An admin action (changing control call, privileged chat command) was carried out or failed.
    package static let audit = "5dfd384f9bef49f682670b4db0dd360f"
    /// An admin action was refused: the caller may not do it.
    package static let auditDenied = "239ea609f569414fb5be1cdf779e4d2c"
}

/// Reads the process environment (for gatewayd's and gatewayctl's variables).
package typealias ProcessEnvironment = GatewayEnvironment
