import GatewayCore

/// `platforms.irc` in the config (read by `IRCConfiguration+Reading.swift`).
package struct IRCConfiguration: Sendable, Equatable {
    package var host: String
    package var port: Int
    package var nick: String
    package var channels: [String]
    /// A channel line starting with this is a command (`!up` is `/up`); `nick: ...` and `/up` always are.
    package var commandPrefix: String
    /// A channel is one shared session unless this is set (then one per person in it).
    package var sessionsPerUser: Bool
    /// TLS to the server (certificate verified against the system roots, or `tlsCAFile`).
    package var tls = false
    package var tlsCAFile: String?
    /// `tlsCAFile`'s certificates as read with the settings: a reload compares them, so a CA
    /// rotated under the same path is a change (and the adapter connects with what was checked).
    package var tlsCAPEM: [UInt8]?
    package var floodBurst: Int
    package var floodPerSecond: Double
    package var reconnectMin: Duration
    package var reconnectMax: Duration
    /// SASL PLAIN login for the bot itself (`sasl_user`, the password from `sasl_password_file`):
    /// when set, a server that does not complete it is a failed connection, not a silent
    /// fallback to no login.
    package var sasl: SASLCredentials?
    /// How long after its message a private reply may go without a WHOIS confirming the nick's
    /// holder. Not a config key (the default is the policy); tests shorten it to see a late reply
    /// without waiting for one.
    package var unconfirmedReplyWindow = GatewayConstants.IRC.unconfirmedReplyWindow
    /// How often a bot registered under a fallback nick asks for its own again. Not a config
    /// key; tests shorten it.
    package var nickRegainInterval = GatewayConstants.IRC.nickRegainInterval

    package struct SASLCredentials: Sendable, Equatable {
        package var user: String
        package var password: [UInt8]

        package init(user: String, password: [UInt8]) {
            self.user = user
            self.password = password
        }
    }

    package init(host: String, port: Int, nick: String, channels: [String], commandPrefix: String = Defaults.commandPrefix,
                sessionsPerUser: Bool = false, floodBurst: Int = Defaults.floodBurst, floodPerSecond: Double = Defaults.floodPerSecond,
                reconnectMin: Duration = Defaults.reconnectMin, reconnectMax: Duration = Defaults.reconnectMax, sasl: SASLCredentials? = nil) {
        self.host = host
        self.port = port
        self.nick = nick
        self.channels = channels
        self.commandPrefix = commandPrefix
        self.sessionsPerUser = sessionsPerUser
        self.floodBurst = floodBurst
        self.floodPerSecond = floodPerSecond
        self.reconnectMin = reconnectMin
        self.reconnectMax = reconnectMax
        self.sasl = sasl
    }
}

extension IRCConfiguration {
    /// The keys of `platforms.irc`, in the order a reload's summary names them.
    package enum Key {
        static let server = "server", nick = "nick", channels = "channels", prefix = "prefix"
        static let sessionsPerUser = "sessions_per_user", tls = "tls", tlsCAFile = "tls_ca_file"
        static let floodBurst = "flood_burst", floodPerSecond = "flood_per_second"
        static let reconnectMin = "reconnect_min", reconnectMax = "reconnect_max"
        static let saslUser = "sasl_user", saslPasswordFile = "sasl_password_file"
        static let all = [server, nick, channels, prefix, sessionsPerUser, tls, tlsCAFile, floodBurst, floodPerSecond,
                          reconnectMin, reconnectMax, saslUser, saslPasswordFile]
    }

    /// What a key left out means.
    package enum Defaults {
        package static let commandPrefix = "!"
        package static let floodBurst = 10
        package static let floodPerSecond = 5.0
        /// The first wait before reconnecting, doubled after each failure up to the maximum.
        package static let reconnectMin: Duration = .seconds(1)
        package static let reconnectMax: Duration = .seconds(60)
    }
}
