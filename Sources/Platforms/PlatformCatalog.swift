import GatewayCore
import Logging
import NIOCore

/// The network platforms this build has: what the config loader lets each read of its own
/// section, and the adapter each one's settings make.
package enum PlatformCatalog {
    package static let all: [any PlatformSettings.Type] = [IRCConfiguration.self, WebhookConfiguration.self, TelegramConfiguration.self, MatrixConfiguration.self]

    /// The adapter for settings read by one of `all`'s types (built, not started).
    package static func makeAdapter(_ settings: any PlatformSettings, eventLoops: any EventLoopGroup) throws(PlatformError) -> any PlatformAdapter {
        switch settings {
        case let irc as IRCConfiguration: return try IRCAdapter(configuration: irc, eventLoops: eventLoops)
        case let webhook as WebhookConfiguration: return WebhookAdapter(configuration: webhook, eventLoops: eventLoops)
        case let telegram as TelegramConfiguration: return TelegramAdapter(configuration: telegram, eventLoops: eventLoops)
        case let matrix as MatrixConfiguration: return MatrixAdapter(configuration: matrix, eventLoops: eventLoops)
        default: throw PlatformError("platforms.\(type(of: settings).platform): no adapter in this build")
        }
    }
}
