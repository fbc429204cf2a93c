/// The wire names of `io.gatewayd.Gateway`, shared by the daemon and gatewayctl.
public enum GatewayWire {
    public static let interface = "io.gatewayd.Gateway"

    public enum Method: String, Sendable, CaseIterable {
        case getStatus = "GetStatus"
        case drain = "Drain"
        case resume = "Resume"
        case reload = "Reload"
        case restart = "Restart"
        case listSessions = "ListSessions"
        case stopTurn = "StopTurn"
        case resetSession = "ResetSession"
        case listQuickCommands = "ListQuickCommands"
        case runQuickCommand = "RunQuickCommand"
        case sendMessage = "SendMessage"
        case subscribe = "Subscribe"

        /// Needs root, the daemon's uid or the admin group.
        public var changesState: Bool {
            switch self {
            case .getStatus, .listSessions, .listQuickCommands, .subscribe: false
            default: true
            }
        }

        /// `io.gatewayd.Gateway.GetStatus`.
        public var qualified: String { "\(GatewayWire.interface).\(rawValue)" }
    }

    public enum Error {
        public static let noSuchQuickCommand = "io.gatewayd.Gateway.NoSuchQuickCommand"
        public static let quickCommandFailed = "io.gatewayd.Gateway.QuickCommandFailed"
        public static let noSuchSession = "io.gatewayd.Gateway.NoSuchSession"
        public static let configInvalid = "io.gatewayd.Gateway.ConfigInvalid"
        /// `SendMessage` while `platforms.local.enabled` is false.
        public static let platformDisabled = "io.gatewayd.Gateway.PlatformDisabled"
    }
}
