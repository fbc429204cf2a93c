import CCrypto

/// SHA-256 and HMAC-SHA256 from the system's OpenSSL libcrypto, enough to check a webhook's
/// `X-Hub-Signature-256`. libcrypto rather than swift-crypto: swift-crypto would build a second
/// BoringSSL (swift-nio-ssl brings one, not importable) and link FoundationEssentials into the
/// daemon for one digest; libcrypto is on every Debian host (libssl3) and adds neither.
package enum HMACSHA256 {
    /// The 32-byte HMAC of `message` under `key`.
    package static func authenticationCode(for message: some Collection<UInt8>, key: some Collection<UInt8>) -> [UInt8] {
        authenticationCode(forParts: [Array(message)], key: key)
    }

    /// The HMAC of the parts one after the other (a signed prefix and a body, without copying
    /// the body into a new array).
    package static func authenticationCode(forParts parts: [[UInt8]], key: some Collection<UInt8>) -> [UInt8] {
        let key = Array(key)
        guard let context = key.withUnsafeBufferPointer({ gw_hmac_sha256_start($0.baseAddress, $0.count) }) else {
            fatalError("libcrypto: HMAC-SHA256 could not be started (out of memory, or no default provider)")
        }
        defer { EVP_MAC_CTX_free(context) }
        for part in parts {
            part.withUnsafeBufferPointer { _ = EVP_MAC_update(context, $0.baseAddress, $0.count) }
        }
        var code = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        EVP_MAC_final(context, &code, &length, code.count)
        return Array(code.prefix(length))
    }

    /// The SHA-256 digest of `bytes` (the FIPS 180-4 vectors are checked against it).
    package static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        Array(bytes).withUnsafeBufferPointer { _ = SHA256($0.baseAddress, $0.count, &digest) }
        return digest
    }

    /// Compares in time independent of where the first difference is (libcrypto's CRYPTO_memcmp).
    package static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { left in b.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, a.count) == 0 } }
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
