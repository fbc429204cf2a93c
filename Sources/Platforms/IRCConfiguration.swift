import GatewayCore

/// `platforms.irc` in the config.
package struct IRCConfiguration: Sendable {
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

    package struct SASLCredentials: Sendable {
        package var user: String
        package var password: [UInt8]

        package init(user: String, password: [UInt8]) {
            self.user = user
            self.password = password
        }
    }

    package init(host: String, port: Int, nick: String, channels: [String], commandPrefix: String = "!",
                sessionsPerUser: Bool = false, floodBurst: Int = 10, floodPerSecond: Double = 5,
                reconnectMin: Duration = IRCSettings.defaultReconnectMin, reconnectMax: Duration = IRCSettings.defaultReconnectMax, sasl: SASLCredentials? = nil) {
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

    static let keys: Set<String> = [
        "server", "nick", "channels", "prefix", "sessions_per_user", "tls", "tls_ca_file", "flood_burst",
        "flood_per_second", "reconnect_min", "reconnect_max", "sasl_user", "sasl_password_file",
    ]

    /// `server: "irc.example.net:6667"`, `nick`, `channels: ["#ops"]`, and optionally `prefix`,
    /// `sessions_per_user`, `tls`, `tls_ca_file`, `flood_burst`, `flood_per_second`, `reconnect_min`,
    /// `reconnect_max` (durations), `sasl_user` with `sasl_password_file`.
    package init(settings: [String: String]) throws(PlatformError) {
        for key in settings.keys.sorted() where !Self.keys.contains(key) {
            throw PlatformError("platforms.irc.\(key): unknown key (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
        guard let server = settings["server"], let colon = server.lastIndex(of: ":"),
              let port = Int(server[server.index(after: colon)...]), (1...65535).contains(port) else {
            throw PlatformError("platforms.irc.server: expected host:port such as \"irc.libera.chat:6667\"")
        }
        let host = String(server[..<colon])
        guard IRCText.isWord(host) else { throw PlatformError("platforms.irc.server: \(host.debugDescription) is not a host name") }
        guard let nick = settings["nick"], IRCText.isNick(nick) else {
            throw PlatformError("platforms.irc.nick: required: one word, without control characters, `,` `!` `@` `*` `?`, not starting with # & : $ +")
        }
        let list = settings["channels"].map { $0.trimmingCharacters(in: "[]") } ?? ""
        let channels = list.split(separator: ",").map { String($0).trimmingCharacters(in: " \"'") }.filter { !$0.isEmpty }
        for channel in channels where !IRCText.isChannel(channel) {
            throw PlatformError("platforms.irc.channels: \(channel.debugDescription) is not a channel name (# or &, then no spaces, commas, colons or control characters)")
        }
        func duration(_ key: String, _ fallback: Duration) throws(PlatformError) -> Duration {
            guard let text = settings[key] else { return fallback }
            guard let value = DurationValue.parse(text), ConfigLimits.durations.contains(value) else {
                throw PlatformError("platforms.irc.\(key): expected a duration \(ConfigLimits.describe(ConfigLimits.durations)), got \(text.debugDescription)")
            }
            return value
        }
        let reconnectMin = try duration(IRCSettings.reconnectMin, IRCSettings.defaultReconnectMin)
        let reconnectMax = try duration(IRCSettings.reconnectMax, IRCSettings.defaultReconnectMax)
        if let problem = IRCSettings.reconnectProblem(minimum: reconnectMin, maximum: reconnectMax) {
            throw PlatformError("platforms.irc.\(IRCSettings.reconnectMin): \(problem)")
        }
        self.init(
            host: host, port: port, nick: nick, channels: channels,
            commandPrefix: settings["prefix"] ?? "!",
            sessionsPerUser: try Self.flag(settings["sessions_per_user"], "sessions_per_user"),
            floodBurst: try Self.floodBurst(settings["flood_burst"]),
            floodPerSecond: try Self.floodPerSecond(settings["flood_per_second"]),
            reconnectMin: reconnectMin, reconnectMax: reconnectMax,
            sasl: try Self.sasl(user: settings["sasl_user"], passwordFile: settings["sasl_password_file"]))
        tls = try Self.flag(settings["tls"], "tls")
        tlsCAFile = settings["tls_ca_file"]
        if tlsCAFile != nil && !tls { throw PlatformError("platforms.irc.tls_ca_file: set tls: true as well") }
    }
}

extension IRCConfiguration {
    static func flag(_ text: String?, _ key: String) throws(PlatformError) -> Bool {
        switch text {
        case nil, "false", "no", "off": return false
        case "true", "yes", "on": return true
        default: throw PlatformError("platforms.irc.\(key): expected true or false, got \(text ?? "")")
        }
    }

    /// Lines sent at once before the rate applies: a whole number from 1 to the sane maximum.
    static func floodBurst(_ text: String?) throws(PlatformError) -> Int {
        guard let text else { return 10 }
        guard let value = Int(text), value >= 1, value <= GatewayConstants.IRC.maxFloodBurst else {
            throw PlatformError("platforms.irc.flood_burst: expected a whole number from 1 to \(GatewayConstants.IRC.maxFloodBurst), got \(text.debugDescription)")
        }
        return value
    }

    /// Lines per second: finite, above 0, at most the sane maximum (`inf`, `nan`, `0` and `-1`
    /// would stop the bot or flood it off the server).
    static func floodPerSecond(_ text: String?) throws(PlatformError) -> Double {
        guard let text else { return 5 }
        guard let value = Double(text), value.isFinite, value > 0, value <= GatewayConstants.IRC.maxFloodPerSecond else {
            throw PlatformError("platforms.irc.flood_per_second: expected a number above 0 and at most \(Int(GatewayConstants.IRC.maxFloodPerSecond)), got \(text.debugDescription)")
        }
        return value
    }

    /// Both keys or neither; the password read from its file (never from the config text),
    /// trailing newline dropped.
    static func sasl(user: String?, passwordFile: String?) throws(PlatformError) -> SASLCredentials? {
        switch (user, passwordFile) {
        case (nil, nil):
            return nil
        case (nil, _):
            throw PlatformError("platforms.irc.sasl_password_file: set sasl_user as well (the services account to log in as)")
        case (_, nil):
            throw PlatformError("platforms.irc.sasl_user: set sasl_password_file as well (a file holding the password)")
        case let (user?, file?):
            guard !user.isEmpty, !user.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw PlatformError("platforms.irc.sasl_user: expected an account name without control characters")
            }
            let password = try SecretFile.read(file, key: "platforms.irc.sasl_password_file")
            guard !password.contains(0) else { throw PlatformError("platforms.irc.sasl_password_file: \(file) holds a NUL byte") }
            return SASLCredentials(user: user, password: password)
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        guard let first = firstIndex(where: { !characters.contains($0) }),
              let last = lastIndex(where: { !characters.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}
