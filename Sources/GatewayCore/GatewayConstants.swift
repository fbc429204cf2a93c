/// Names and defaults that tools, tests and operators rely on, kept in one place (see DESIGN.md).
public enum GatewayConstants {
    public static let version = "0.1.0"
    /// `SYSLOG_IDENTIFIER` of every journal record.
    public static let syslogIdentifier = "gatewayd"
    /// Prefix of the journal fields made from log metadata (`session` -> `GATEWAY_SESSION`).
    public static let journalFieldPrefix = "GATEWAY_"
    public static let defaultConfigPath = "/etc/gatewayd/gatewayd.yaml"
    public static let defaultControlSocket = "/run/gatewayd/control"

    /// Environment variables read by gatewayd and gatewayctl.
    public enum Environment {
        /// `auto` (default), `journal` or `console`: where gatewayd's logs go.
        public static let logTarget = "GATEWAYD_LOG_TARGET"
        /// The control socket gatewayctl talks to when `--socket` is not given.
        public static let socket = "GATEWAYD_SOCKET"
        /// `1` enables test-only hooks (SIGUSR2 wedges the dispatcher, for watchdog tests).
        public static let testHooks = "GATEWAYD_TEST_HOOKS"
    }

    /// Process exit statuses with a meaning for systemd (`RestartForceExitStatus=`,
    /// `RestartPreventExitStatus=`).
    public enum ExitStatus {
        public static let success: Int32 = 0
        /// The daemon could not start (the control socket could not be served, ...).
        public static let failure: Int32 = 1
        public static let restartRequested: Int32 = 75
        public static let configInvalid: Int32 = 78
    }
}

extension GatewayConstants {
    /// An alias may rewrite a message at most this many times (a loop is an error reply).
    public static let maxAliasRewrites = 8
    /// Busy acknowledgements are sent at most once per this long per session.
    public static let busyAckInterval: Duration = .seconds(30)
}

extension GatewayConstants {
    /// The platform name of messages sent over the control socket.
    public static let localPlatform = "local"
}

extension GatewayConstants {
    /// `FileDescriptorName=` of the control socket in gatewayd.socket.
    public static let controlSocketName = "control"
    /// Stop-timeout extensions reach this far past the drain's own deadline.
    public static let stopTimeoutMargin: Duration = .seconds(15)
}
