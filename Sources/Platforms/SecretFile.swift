import GatewayCore

/// A secret kept in a file of its own, never in the config text (`platforms.irc.sasl_password_file`;
/// the webhook's `secret_file` reads the same way): at most 4 KiB, the trailing newline dropped,
/// not empty.
enum SecretFile {
    /// The secret; the error says what is wrong with `path` (the caller adds the key and line).
    static func read(_ path: String) throws(PlatformError) -> [UInt8] {
        var secret: [UInt8]
        do {
            secret = try FileBytes.read(path, limit: 4096, regularFileOnly: true)
        } catch {
            throw PlatformError("cannot read \(path): \(error)")
        }
        while let last = secret.last, last == 0x0a || last == 0x0d { secret.removeLast() }
        guard !secret.isEmpty else { throw PlatformError("\(path) is empty") }
        return secret
    }
}
