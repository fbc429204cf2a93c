import GatewayCore

/// `platforms.webhook` in the config, and the limits every connection is held to.
package struct WebhookConfiguration: Sendable {
    package var host: String
    package var port: Int
    package var secret: [UInt8]
    /// How far a signed `X-Gatewayd-Timestamp` may be from this host's clock, either way.
    package var replayWindow: Duration = WebhookSettings.defaultReplayWindow
    /// A delivery without a signed timestamp is refused.
    package var requireTimestamp = false
    /// Open connections at once; a connection past it is closed as soon as it is accepted.
    package var maxConnections = WebhookSettings.defaultMaxConnections
    /// A request's head must be complete this long after its first byte (a peer dribbling a
    /// header byte by byte is cut here).
    package var headTimeout: Duration = .seconds(10)
    /// Its body must be complete this long after the head (1 MiB in 30 s is 35 KB/s: a real
    /// sender is far faster, a slow-body attack holds the connection no longer).
    package var bodyTimeout: Duration = .seconds(30)
    /// A keep-alive connection with no request under way is closed after this long (as long as
    /// `headTimeout`, so a keep-alive sender's requests move no timer; see the connection guard).
    package var idleTimeout: Duration = .seconds(10)

    package static let maxBody = 1 << 20
    /// A repeated delivery `id` gets the first answer again for this long.
    package static let deduplicationWindow: Duration = .seconds(600)
    /// The signature header, as GitHub names it.
    package static let signatureHeader = "X-Hub-Signature-256"
    /// Unix seconds, covered by the signature when present: see `WebhookSignature`.
    package static let timestampHeader = "X-Gatewayd-Timestamp"
    /// The 503's error for a request that comes while the adapter stops (a sender retries later).
    package static let stoppingMessage = "the gateway is stopping; retry later"

    package init(host: String, port: Int, secret: [UInt8]) {
        self.host = host
        self.port = port
        self.secret = secret
    }

    /// From the settings: `listen: "127.0.0.1:8088"`, `secret_file: /etc/gatewayd/webhook.secret`,
    /// optionally `replay_window`, `require_timestamp`, `max_connections` (already checked, with
    /// their lines, by the config loader; checked again here for callers that skip it).
    /// The secret is read from its file (never from the config text), trailing newline dropped.
    package init(settings: [String: String]) throws(PlatformError) {
        guard let listen = settings[WebhookSettings.listen], let colon = listen.lastIndex(of: ":"),
              let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw PlatformError("platforms.webhook.listen: expected host:port such as \"127.0.0.1:8088\"")
        }
        guard let file = settings[WebhookSettings.secretFile] else {
            throw PlatformError("platforms.webhook.secret_file: required (a file holding the shared secret)")
        }
        let secret = try SecretFile.read(file, key: "platforms.webhook.secret_file")
        self.init(host: String(listen[..<colon]), port: port, secret: secret)
        if let text = settings[WebhookSettings.replayWindow] {
            guard let window = DurationValue.parse(text), ConfigLimits.durations.contains(window) else {
                throw PlatformError("platforms.webhook.replay_window: expected a duration \(ConfigLimits.describe(ConfigLimits.durations)), got \(text.debugDescription)")
            }
            replayWindow = window
        }
        if let text = settings[WebhookSettings.requireTimestamp] {
            guard let flag = YAMLNode.scalar(text, quoted: false, line: 0).bool else {
                throw PlatformError("platforms.webhook.require_timestamp: expected true or false, got \(text.debugDescription)")
            }
            requireTimestamp = flag
        }
        if let text = settings[WebhookSettings.maxConnections] {
            let range = ConfigLimits.webhookConnections
            guard let count = YAMLNode.scalar(text, quoted: false, line: 0).int, range.contains(count) else {
                throw PlatformError("platforms.webhook.max_connections: expected a whole number \(ConfigLimits.describe(range)), got \(text.debugDescription)")
            }
            maxConnections = count
        }
    }
}
