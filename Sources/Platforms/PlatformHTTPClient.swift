import AsyncHTTPClient
import NIOCore
import NIOConcurrencyHelpers

/// The HTTP client of a chat platform's API (Telegram's Bot API, a Matrix homeserver), made at
/// the first call, not with the adapter: an adapter built and never started (a start that stops
/// at the instance check, a reload's replacement that did not start) has no client to shut down.
/// Connect within 10 s, no redirects (a token in the path or a header must not follow one), no
/// decompression, and a refused connection fails the call at once instead of being retried
/// inside the library until the connect timeout.
final class PlatformHTTPClient: Sendable {
    private let made = NIOLockedValueBox<HTTPClient?>(nil)
    private let settings: HTTPClient.Configuration
    private let eventLoops: any EventLoopGroup

    init(eventLoops: any EventLoopGroup) {
        var settings = HTTPClient.Configuration()
        settings.timeout = .init(connect: .seconds(10))
        settings.redirectConfiguration = .disallow
        settings.decompression = .disabled
        settings.connectionPool.retryConnectionEstablishment = false
        self.settings = settings
        self.eventLoops = eventLoops
    }

    var client: HTTPClient {
        made.withLockedValue { client in
            if let client { return client }
            let new = HTTPClient(eventLoopGroupProvider: .shared(eventLoops), configuration: settings)
            client = new
            return new
        }
    }

    /// Closes the client, if one was made (a call after this fails).
    func shutdown() async {
        guard let client = made.withLockedValue({ $0 }) else { return }
        try? await client.shutdown()
    }

    /// A server's error text (the Bot API's description, a homeserver's error) for the journal and
    /// health: at most 300 Unicode scalars, line breaks as spaces. Cut by scalars, not characters:
    /// one character holds any number of combining marks, so 300 characters of a server's text
    /// were no bound at all (a 32 MiB error into the journal and the health detail).
    static func oneLine(_ text: String) -> String {
        String(String(Substring(text.unicodeScalars.prefix(300))).map { $0.isNewline ? " " : $0 })
    }
}
