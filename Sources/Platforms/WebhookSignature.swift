import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// A delivery's signature, as far as the request head tells it, so that a request that cannot
/// be genuine is refused before a byte of its body is read.
///
/// The scheme (README, "Webhook"): `X-Hub-Signature-256: sha256=<64 hex digits>`, the
/// HMAC-SHA256 under the shared secret of
/// - the raw body, when the request has no `X-Gatewayd-Timestamp` header (GitHub's scheme);
/// - `TIMESTAMP + "." + raw body` when it has one, TIMESTAMP being that header's exact text: unix
///   seconds in decimal digits. The header's presence is what says which: a timestamp that was
///   not signed fails the HMAC, so it cannot be added, changed or stripped by a replayer (with
///   `require_timestamp: true`, stripping it is refused outright). A timestamp further than
///   `replay_window` from this host's clock, either way, is refused: a captured delivery can be
///   replayed only inside that window (and a repeated `id` inside it gets the first answer).
struct WebhookSignature {
    /// The 32 bytes the sender claims.
    let digest: [UInt8]
    /// The header's text, when there is one.
    let timestamp: String?

    /// nil when the head alone shows the request is not a genuine delivery: no signature, one
    /// not `sha256=` and 64 hex digits, a malformed timestamp or one outside the window, or none
    /// where one is required.
    init?(_ headers: HTTPHeaders, configuration: WebhookConfiguration, now: Int64 = Int64(time(nil))) {
        let signatures = headers[WebhookConfiguration.signatureHeader]
        guard signatures.count == 1, let digest = Self.digest(signatures[0][...]) else { return nil }
        let stamps = headers[WebhookConfiguration.timestampHeader]
        switch stamps.count {
        case 0:
            guard !configuration.requireTimestamp else { return nil }
            timestamp = nil
        case 1:
            let text = stamps[0]
            guard (1...12).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                  let seconds = Int64(text) else { return nil }
            let window = configuration.replayWindow.components.seconds
            guard abs(now - seconds) <= window else { return nil }
            timestamp = text
        default:
            return nil
        }
        self.digest = digest
    }

    /// What a replay of this request would repeat exactly, when it is timestamped: its
    /// signature and the signed time (`DeliveryLog` remembers both). An untimestamped delivery
    /// has none: the same body signed again is as likely a genuine repeat as a replay.
    var replayKey: (key: DeliveryKey, timestamp: Int64)? {
        timestamp.flatMap(Int64.init).map { (.signature(SignatureDigest(digest)), $0) }
    }

    /// Whether the HMAC of what was signed (see the type's comment) is the claimed one.
    func verifies(body: [UInt8], secret: [UInt8]) -> Bool {
        let parts = timestamp.map { [Array($0.utf8) + [UInt8(ascii: ".")], body] } ?? [body]
        return HMACSHA256.isValid(digest, forParts: parts, key: secret)
    }

    /// The 32 bytes of `sha256=` followed by exactly 64 hex digits (either case); nil otherwise.
    static func digest(_ header: Substring) -> [UInt8]? {
        let prefix = "sha256="
        guard header.hasPrefix(prefix) else { return nil }
        let hex = Array(header.utf8.dropFirst(prefix.utf8.count))
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = nibble(hex[index]), let low = nibble(hex[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        case 0x41...0x46: digit - 0x41 + 10
        default: nil
        }
    }
}
