/// `platforms.webhook`'s keys and defaults, shared by the loader (which checks the values where
/// it knows their lines) and the adapter (which reads them from the settings text).
package enum WebhookSettings {
    package static let listen = "listen"
    package static let secretFile = "secret_file"
    /// How far a signed `X-Gatewayd-Timestamp` may be from the server's clock, either way.
    package static let replayWindow = "replay_window"
    /// `true`: a delivery without a signed timestamp is refused (401).
    package static let requireTimestamp = "require_timestamp"
    /// Open connections at once; past it a new one is closed at once (and counted).
    package static let maxConnections = "max_connections"

    package static let keys: Set<String> = [listen, secretFile, replayWindow, requireTimestamp, maxConnections]

    package static let defaultReplayWindow: Duration = .seconds(300)
    package static let defaultMaxConnections = 256

    /// Checks the settings' values with their key path and line (the adapter parses the same
    /// text again once they are known to be good).
    static func check(_ pairs: [(String, YAMLNode)], path: String, _ reader: inout Reader) {
        for (key, value) in pairs {
            let keyPath = "\(path).\(key)"
            switch key {
            case listen, secretFile: _ = reader.string(value, keyPath)
            case replayWindow: _ = reader.duration(value, keyPath)
            case requireTimestamp: _ = reader.bool(value, keyPath)
            case maxConnections: _ = reader.int(value, keyPath, in: ConfigLimits.webhookConnections)
            default: reader.unknownKey(key, path: path, value)
            }
        }
    }
}
