/// Who may talk to the gateway and who may run commands on the host. Entries are
/// `platform:user`, `platform:*` or `*`; on IRC also `irc:~ACCOUNT` and `irc:NICK!USER@HOST`
/// (see `AccessEntry`).
package struct AccessPolicy: Sendable {
    package let allowedUsers: [String]
    package let admins: [String]
    private let allowedEntries: [AccessEntry]
    private let adminEntries: [AccessEntry]

    /// Entries that do not parse (the loader reports them) match nobody; a bare `irc:NICK` in
    /// `admins` (refused at load) is not an admin either, should one get here.
    package init(_ config: AccessConfig) {
        allowedUsers = config.allowedUsers
        admins = config.admins
        allowedEntries = config.allowedUsers.compactMap { try? AccessEntry(parsing: $0) }
        adminEntries = config.admins.compactMap { try? AccessEntry(parsing: $0) }.filter { !$0.isBareIRCNick }
    }

    /// Local senders always; admins are allowed too.
    package func isAllowed(_ message: InboundMessage) -> Bool {
        message.isLocal || Self.matches(allowedEntries, message) || Self.matches(adminEntries, message)
    }

    /// May run exec quick commands and `/restart`. Local senders are admins.
    package func isAdmin(_ message: InboundMessage) -> Bool {
        message.isLocal || Self.matches(adminEntries, message)
    }

    static func matches(_ entries: [AccessEntry], _ message: InboundMessage) -> Bool {
        entries.contains { $0.matches(message) }
    }
}
