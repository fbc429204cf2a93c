import Crypto

/// SHA-256 and HMAC-SHA256 from swift-crypto (BoringSSL inside, linked statically), enough to
/// check a webhook's `X-Hub-Signature-256`.
///
/// Not the system's libcrypto: loading libcrypto.so.3 cost every gatewayd 1.2 MiB of resident
/// memory at start (its relocations and symbol tables are touched by the loader), a webhook
/// configured or not; only the digest's own code is linked from BoringSSL.
package enum HMACSHA256 {
    /// The 32-byte HMAC of `message` under `key`.
    package static func authenticationCode(for message: some Collection<UInt8>, key: some Collection<UInt8>) -> [UInt8] {
        authenticationCode(forParts: [Array(message)], key: key)
    }

    /// The HMAC of the parts one after the other (a signed prefix and a body, without copying
    /// the body into a new array).
    package static func authenticationCode(forParts parts: [[UInt8]], key: some Collection<UInt8>) -> [UInt8] {
        Array(code(forParts: parts, key: key))
    }

    /// Whether `claimed` is the HMAC of the parts, compared in time independent of where the
    /// first difference is (swift-crypto's comparison of authentication codes).
    package static func isValid(_ claimed: [UInt8], forParts parts: [[UInt8]], key: some Collection<UInt8>) -> Bool {
        code(forParts: parts, key: key) == claimed
    }

    /// The SHA-256 digest of `bytes` (the FIPS 180-4 vectors are checked against it).
    package static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(bytes)))
    }

    private static func code(forParts parts: [[UInt8]], key: some Collection<UInt8>) -> HashedAuthenticationCode<SHA256> {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Array(key)))
        for part in parts { hmac.update(data: part) }
        return hmac.finalize()
    }

    package static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
