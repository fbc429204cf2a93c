import GatewayCore

/// The person a private reply is for, as the network named them when their message came: the
/// nick is only where the reply is addressed. Before a line goes to the nick, the outbox checks
/// it is still held by the same person (see `IRCOutbox.admit`).
///
/// A reference shared by the lines of one reply; its mutable fields change only under the
/// outbox's lock.
final class IRCRecipient: @unchecked Sendable {
    /// When and on which connection the message came that the reply answers.
    struct Sighting {
        /// The departure sequence then (nick changes seen after it concern this reply).
        let sequence: UInt64
        let generation: UInt64
        let at: ContinuousClock.Instant
    }

    let nick: String
    let folded: String
    /// `nick!user@host` of the message; nil when the server sent no full prefix.
    let hostmask: String?
    /// The services account the message was tagged with.
    let account: String?
    /// An admin's reply (command output): the holder is confirmed by WHOIS on every connection.
    let privileged: Bool
    /// nil for a reply whose message came to an earlier process (replayed after a restart): then
    /// nothing this connection saw says who holds the nick, and a WHOIS must.
    let seen: Sighting?
    var verifiedGeneration: UInt64?
    var verifiedAt: ContinuousClock.Instant?
    /// Set once the nick is known to be someone else's: the rest of the reply is dropped.
    var refused = false

    init(nick: String, hostmask: String?, account: String?, privileged: Bool, seen: Sighting?) {
        self.nick = nick
        folded = IRCCasemapping.fold(nick)
        self.hostmask = hostmask
        self.account = account
        self.privileged = privileged
        self.seen = seen
    }

    /// Whether a WHOIS could confirm the person at all: with neither an account nor a mask (a
    /// message stored before gatewayd kept them, a server that sent no full prefix) nobody can.
    var isConfirmable: Bool { account != nil || hostmask != nil }

    /// Whether a WHOIS answer shows the same person: the same account when the message had one
    /// (a host may change with a cloak; the account is what services vouch for), else the same
    /// `nick!user@host`.
    func isHeld(by whois: IRCWhois) -> Bool {
        guard !whois.absent, let user = whois.user, let host = whois.host else { return false }
        if let account { return whois.account.map { IRCCasemapping.equal($0, account) } ?? false }
        guard let hostmask else { return false }
        return IRCCasemapping.equal("\(nick)!\(user)@\(host)", hostmask)
    }
}

/// What a WHOIS said about a nick (311 user and host, 330 account, 401 no such nick), until 318.
struct IRCWhois {
    var user: String?
    var host: String?
    var account: String?
    var absent = false
    let sentAt: ContinuousClock.Instant
    var waiting: [IRCRecipient] = []
}

/// Nicks seen changing hands on the current connection (NICK away from or onto them, QUIT,
/// an ACCOUNT change), each with the sequence number of its last change. Bounded: past
/// `capacity` the oldest are forgotten, and `floor` remembers how far back that reaches, so a
/// question about an older time gets "unknown" (then WHOIS asks the server), never a wrong "no".
struct IRCDepartures {
    enum Knowledge { case stayed, departed, unknown }

    let capacity: Int
    private(set) var sequence: UInt64 = 0
    private var last: [String: UInt64] = [:]
    private var order: [(nick: String, at: UInt64)] = []
    private var head = 0
    private var floor: UInt64 = 0

    init(capacity: Int = GatewayConstants.IRC.departuresRemembered) {
        self.capacity = capacity
    }

    var count: Int { last.count }

    /// A new connection: nothing seen on it yet, nothing before it known.
    mutating func reset() {
        last = [:]
        order = []
        head = 0
        floor = sequence
    }

    mutating func depart(_ folded: String) {
        sequence += 1
        last[folded] = sequence
        order.append((folded, sequence))
        while order.count - head > capacity {
            let oldest = order[head]
            head += 1
            if last[oldest.nick] == oldest.at { last[oldest.nick] = nil }
            floor = max(floor, oldest.at)
        }
        if head > capacity {
            order.removeFirst(head)
            head = 0
        }
    }

    func knowledge(of folded: String, since: UInt64) -> Knowledge {
        if let at = last[folded], at > since { return .departed }
        return since < floor ? .unknown : .stayed
    }
}
