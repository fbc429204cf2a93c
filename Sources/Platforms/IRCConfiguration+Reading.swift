import GatewayCore

extension IRCConfiguration: PlatformSettings {
    package static var platform: String { GatewayConstants.ircPlatform }

    /// `server: "irc.example.net:6667"`, `nick`, `channels: ["#ops"]`, and optionally `prefix`,
    /// `sessions_per_user`, `tls`, `tls_ca_file`, `flood_burst`, `flood_per_second`,
    /// `reconnect_min`, `reconnect_max` (durations), `sasl_user` with `sasl_password_file` (read
    /// here, so a check finds an unreadable one). Every problem is recorded with its line.
    package static func read(_ node: YAMLNode, path: String, _ reader: inout ConfigReader) -> IRCConfiguration? {
        let errorsBefore = reader.errorCount
        var server: (host: String, port: Int)?, nick: String?, channels: [String] = []
        var prefix = Defaults.commandPrefix, perUser = false, tls = false, caFile: String?
        var burst = Defaults.floodBurst, rate = Defaults.floodPerSecond
        var reconnect: [String: Duration] = [:]
        var saslUser: String?, saslFile: String?
        var lines: [String: Int] = [:]
        for (key, value) in reader.entries(node, path, allowed: Set(Key.all)) {
            let keyPath = "\(path).\(key)"
            lines[key] = value.line
            switch key {
            case Key.server:
                guard let address = reader.hostPort(value, keyPath, ports: 1...65535, example: "irc.libera.chat:6667") else { continue }
                if IRCText.isWord(address.host) { server = address } else {
                    reader.error(keyPath, value.line, "\(address.host.debugDescription) is not a host name")
                }
            case Key.nick:
                guard let text = reader.string(value, keyPath) else { continue }
                if IRCText.isNick(text) { nick = text } else { reader.error(keyPath, value.line, nickRule + ", got \(text.debugDescription)") }
            case Key.channels:
                for channel in reader.strings(value, keyPath) ?? [] {
                    if IRCText.isChannel(channel) { channels.append(channel) } else {
                        reader.error(keyPath, value.line, "\(channel.debugDescription) is not a channel name (# or &, then no spaces, commas, colons or control characters)")
                    }
                }
            case Key.prefix:
                guard let text = reader.string(value, keyPath) else { continue }
                if !text.isEmpty, !text.contains(" "), !text.unicodeScalars.contains(where: { $0.value < 0x20 }) { prefix = text } else {
                    reader.error(keyPath, value.line, "expected a short marker such as \"!\" (no spaces or control characters), got \(text.debugDescription)")
                }
            case Key.sessionsPerUser: perUser = reader.bool(value, keyPath) ?? perUser
            case Key.tls: tls = reader.bool(value, keyPath) ?? tls
            case Key.tlsCAFile: caFile = reader.string(value, keyPath)
            case Key.floodBurst:
                burst = reader.int(value, keyPath, in: 1...GatewayConstants.IRC.maxFloodBurst) ?? burst
            case Key.floodPerSecond:
                // inf, nan, 0 and -1 would stop the bot or flood it off the server.
                let limit = GatewayConstants.IRC.maxFloodPerSecond
                rate = reader.double(value, keyPath, in: .leastNonzeroMagnitude...limit, describe: "above 0 and at most \(Int(limit))") ?? rate
            case Key.reconnectMin, Key.reconnectMax:
                if let duration = reader.duration(value, keyPath) { reconnect[key] = duration }
            case Key.saslUser:
                guard let text = reader.string(value, keyPath) else { continue }
                if !text.isEmpty, !text.unicodeScalars.contains(where: { $0.value < 0x20 }) { saslUser = text } else {
                    reader.error(keyPath, value.line, "expected an account name without control characters")
                }
            default: saslFile = reader.string(value, keyPath)
            }
        }
        if server == nil && lines[Key.server] == nil {
            reader.error("\(path).\(Key.server)", node.line, "required: host:port such as \"irc.libera.chat:6667\"")
        }
        if nick == nil && lines[Key.nick] == nil { reader.error("\(path).\(Key.nick)", node.line, "required: " + nickRule) }
        let reconnectMin = reconnect[Key.reconnectMin] ?? Defaults.reconnectMin
        let reconnectMax = reconnect[Key.reconnectMax] ?? Defaults.reconnectMax
        if reconnectMin > reconnectMax {
            // Named where the operator wrote it: a typo, or a value meant for the other key.
            let key = reconnect[Key.reconnectMin] != nil ? Key.reconnectMin : Key.reconnectMax
            let defaulted = [Key.reconnectMin, Key.reconnectMax].first { reconnect[$0] == nil }
            reader.error("\(path).\(key)", lines[key], "\(Key.reconnectMin) (\(DurationValue.describe(reconnectMin))) is above "
                         + "\(Key.reconnectMax) (\(DurationValue.describe(reconnectMax)))" + (defaulted.map { "; \($0) is the default" } ?? ""))
        }
        if caFile != nil && !tls { reader.error("\(path).\(Key.tlsCAFile)", lines[Key.tlsCAFile], "set tls: true as well") }
        var sasl: SASLCredentials?
        switch (saslUser, saslFile) {
        case (nil, nil): break
        case (nil, _) where lines[Key.saslUser] == nil:
            reader.error("\(path).\(Key.saslPasswordFile)", lines[Key.saslPasswordFile], "set sasl_user as well (the services account to log in as)")
        case (_, nil) where lines[Key.saslPasswordFile] == nil:
            reader.error("\(path).\(Key.saslUser)", lines[Key.saslUser], "set sasl_password_file as well (a file holding the password)")
        case let (user?, file?):
            do throws(PlatformError) {
                let password = try SecretFile.read(file)
                if password.contains(0) { throw PlatformError("\(file) holds a NUL byte") }
                sasl = SASLCredentials(user: user, password: password)
            } catch {
                reader.error("\(path).\(Key.saslPasswordFile)", lines[Key.saslPasswordFile], error.message)
            }
        default: break
        }
        guard reader.errorCount == errorsBefore, let server, let nick else { return nil }
        var configuration = IRCConfiguration(
            host: server.host, port: server.port, nick: nick, channels: channels, commandPrefix: prefix, sessionsPerUser: perUser,
            floodBurst: burst, floodPerSecond: rate, reconnectMin: reconnectMin, reconnectMax: reconnectMax, sasl: sasl)
        configuration.tls = tls
        configuration.tlsCAFile = caFile
        do throws(PlatformError) {
            if let caFile, tls {
                do {
                    configuration.tlsCAPEM = try FileBytes.read(caFile, limit: GatewayConstants.IRC.maxCAFileBytes, regularFileOnly: true)
                } catch {
                    throw PlatformError("\(caFile): \(error)")
                }
            }
            _ = try IRCAdapter.tlsContext(configuration)
        } catch {
            reader.error("\(path).\(Key.tlsCAFile)", lines[Key.tlsCAFile] ?? lines[Key.tls], error.message)
            return nil
        }
        return configuration
    }

    private static let nickRule = "one word, without control characters, `,` `!` `@` `*` `?`, not starting with # & : $ +"

    package func changedKeys(from old: IRCConfiguration) -> [String] {
        var changed: [String] = []
        func note(_ key: String, _ differs: Bool) { if differs { changed.append(key) } }
        note(Key.server, host != old.host || port != old.port)
        note(Key.nick, nick != old.nick)
        note(Key.channels, channels != old.channels)
        note(Key.prefix, commandPrefix != old.commandPrefix)
        note(Key.sessionsPerUser, sessionsPerUser != old.sessionsPerUser)
        note(Key.tls, tls != old.tls)
        note(Key.tlsCAFile, tlsCAFile != old.tlsCAFile || tlsCAPEM != old.tlsCAPEM)
        note(Key.floodBurst, floodBurst != old.floodBurst)
        note(Key.floodPerSecond, floodPerSecond != old.floodPerSecond)
        note(Key.reconnectMin, reconnectMin != old.reconnectMin)
        note(Key.reconnectMax, reconnectMax != old.reconnectMax)
        note(Key.saslUser, sasl?.user != old.sasl?.user)
        note(Key.saslPasswordFile, sasl?.password != old.sasl?.password)
        note("unconfirmed_reply_window", unconfirmedReplyWindow != old.unconfirmedReplyWindow)
        note("nick_regain_interval", nickRegainInterval != old.nickRegainInterval)
        return changed
    }

    /// Channels, the prefix and per-user sessions change on the open connection (PART and
    /// JOIN); anything else needs a new one.
    package func appliesInPlace(over old: IRCConfiguration) -> Bool {
        Set(changedKeys(from: old)).isSubset(of: [Key.channels, Key.prefix, Key.sessionsPerUser])
    }

    /// IRC identities a plaintext connection cannot protect: whoever is on the path between the
    /// gateway and the server can read and forge the lines that carry them.
    package func warnings(for config: GatewayConfig, lines: ConfigLines) -> [ConfigProblem] {
        guard !tls else { return [] }
        var warnings: [ConfigProblem] = []
        if config.access.admins.contains(where: { $0 == "*" || $0.hasPrefix("\(Self.platform):") }) {
            warnings.append(ConfigProblem(severity: .warning, path: "access.admins", line: lines.line("access", "admins"), message:
                "IRC admins over a plaintext connection (platforms.irc.tls is off): anyone on the path can read "
                + "their commands and forge their lines; set tls: true"))
        }
        if sasl != nil {
            warnings.append(ConfigProblem(severity: .warning, path: "platforms.irc.sasl_user", line: lines.line("platforms", "irc", "sasl_user"),
                message: "the SASL password would cross a plaintext connection (platforms.irc.tls is off); set tls: true"))
        }
        return warnings
    }
}
