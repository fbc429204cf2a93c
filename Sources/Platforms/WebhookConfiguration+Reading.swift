import GatewayCore

extension WebhookConfiguration: PlatformSettings {
    package static var platform: String { GatewayConstants.webhookPlatform }

    /// The keys of `platforms.webhook`, in the order a reload's summary names them.
    package enum Key {
        static let listen = "listen", secretFile = "secret_file"
        /// How far a signed `X-Gatewayd-Timestamp` may be from the server's clock, either way.
        static let replayWindow = "replay_window"
        /// `true`: a delivery without a signed timestamp is refused (401).
        static let requireTimestamp = "require_timestamp"
        /// Open connections at once; past it a new one is closed at once (and counted).
        static let maxConnections = "max_connections"
        static let all = [listen, secretFile, replayWindow, requireTimestamp, maxConnections]
    }

    /// What a key left out means.
    package enum Defaults {
        package static let replayWindow: Duration = .seconds(300)
        package static let maxConnections = 256
    }

    /// `listen: "127.0.0.1:8088"`, `secret_file: /etc/gatewayd/webhook.secret` (read here: the
    /// secret is never in the config text), and optionally `replay_window`, `require_timestamp`,
    /// `max_connections`. Every problem is recorded with its line.
    package static func read(_ node: YAMLNode, path: String, _ reader: inout ConfigReader) -> WebhookConfiguration? {
        let errorsBefore = reader.errorCount
        var listen: (host: String, port: Int)?, secret: [UInt8]?, seen: Set<String> = []
        var replayWindow = Defaults.replayWindow, requireTimestamp = false, maxConnections = Defaults.maxConnections
        for (key, value) in reader.entries(node, path, allowed: Set(Key.all)) {
            let keyPath = "\(path).\(key)"
            seen.insert(key)
            switch key {
            case Key.listen: listen = reader.hostPort(value, keyPath, ports: 0...65535, example: "127.0.0.1:8088")
            case Key.secretFile:
                guard let file = reader.string(value, keyPath) else { continue }
                do { secret = try SecretFile.read(file) } catch { reader.error(keyPath, value.line, error.message) }
            case Key.replayWindow: replayWindow = reader.duration(value, keyPath) ?? replayWindow
            case Key.requireTimestamp: requireTimestamp = reader.bool(value, keyPath) ?? requireTimestamp
            default: maxConnections = reader.int(value, keyPath, in: ConfigLimits.webhookConnections) ?? maxConnections
            }
        }
        if !seen.contains(Key.listen) { reader.error("\(path).\(Key.listen)", node.line, "required: host:port such as \"127.0.0.1:8088\"") }
        if !seen.contains(Key.secretFile) {
            reader.error("\(path).\(Key.secretFile)", node.line, "required (a file holding the shared secret)")
        }
        guard reader.errorCount == errorsBefore, let listen, let secret else { return nil }
        var configuration = WebhookConfiguration(host: listen.host, port: listen.port, secret: secret)
        configuration.replayWindow = replayWindow
        configuration.requireTimestamp = requireTimestamp
        configuration.maxConnections = maxConnections
        return configuration
    }

    /// Everything but `listen` changes on the running adapter (a secret rotated, a window
    /// changed): its socket and the requests under way are not touched.
    package func appliesInPlace(over old: WebhookConfiguration) -> Bool {
        Set(changedKeys(from: old)).isSubset(of: [Key.secretFile, Key.replayWindow, Key.requireTimestamp, Key.maxConnections])
    }

    package func changedKeys(from old: WebhookConfiguration) -> [String] {
        var changed: [String] = []
        if host != old.host || port != old.port { changed.append(Key.listen) }
        if secret != old.secret { changed.append(Key.secretFile) }
        if replayWindow != old.replayWindow { changed.append(Key.replayWindow) }
        if requireTimestamp != old.requireTimestamp { changed.append(Key.requireTimestamp) }
        if maxConnections != old.maxConnections { changed.append(Key.maxConnections) }
        if headTimeout != old.headTimeout || bodyTimeout != old.bodyTimeout || idleTimeout != old.idleTimeout {
            changed.append("timeouts")
        }
        return changed
    }
}
