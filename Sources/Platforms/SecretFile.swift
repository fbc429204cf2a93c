import GatewayCore

/// A secret kept in a file of its own, never in the config text (`platforms.irc.sasl_password_file`;
/// the webhook's `secret_file` reads the same way), as `Secret.read(file:)` reads it.
enum SecretFile {
    /// The secret; the error says what is wrong with `path` (the caller adds the key and line).
    static func read(_ path: String) throws(PlatformError) -> [UInt8] {
        do {
            return try Secret.read(file: path).bytes
        } catch {
            throw PlatformError(error.description)
        }
    }
}
