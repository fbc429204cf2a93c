/// Who may talk to the gateway and who may run commands on the host. Entries are
/// `platform:user`, `platform:*` or `*`.
public struct AccessPolicy: Sendable {
    public let allowedUsers: [String]
    public let admins: [String]

    public init(_ config: AccessConfig) {
        allowedUsers = config.allowedUsers
        admins = config.admins
    }

    /// Local senders always; admins are allowed too.
    public func isAllowed(_ message: InboundMessage) -> Bool {
        message.isLocal || Self.matches(allowedUsers, message.senderID) || Self.matches(admins, message.senderID)
    }

    /// May run exec quick commands and `/restart`. Local senders are admins.
    public func isAdmin(_ message: InboundMessage) -> Bool {
        message.isLocal || Self.matches(admins, message.senderID)
    }

    static func matches(_ entries: [String], _ sender: String) -> Bool {
        entries.contains { entry in
            entry == "*" || entry == sender || (entry.hasSuffix(":*") && sender.hasPrefix(entry.dropLast()))
        }
    }
}
