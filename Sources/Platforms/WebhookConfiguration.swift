import GatewayCore

/// `platforms.webhook` in the config (read by `WebhookConfiguration+Reading.swift`), and the
/// limits every connection is held to.
package struct WebhookConfiguration: Sendable, Equatable {
    package var host: String
    package var port: Int
    package var secret: [UInt8]
    /// How far a signed `X-Gatewayd-Timestamp` may be from this host's clock, either way.
    package var replayWindow: Duration = Defaults.replayWindow
    /// A delivery without a signed timestamp is refused.
    package var requireTimestamp = false
    /// Open connections at once; a connection past it is closed as soon as it is accepted.
    package var maxConnections = Defaults.maxConnections
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
}
