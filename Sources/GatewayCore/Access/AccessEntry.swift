/// One entry of `access.allowed_users` or `access.admins`, parsed once at load.
///
/// Why IRC has its own forms: a nick is only a name that whoever holds it uses, and anyone may
/// take it once it is free. What the network vouches for is the services account (the IRCv3
/// `account` tag on the message) and the connection's `nick!user@host`.
package enum AccessEntry: Sendable, Equatable {
    /// `*`: everyone.
    case everyone
    /// `platform:*`: everyone on that platform.
    case platform(String)
    /// `platform:user`: the sender id as the platform names it (on IRC: the nick, matched per
    /// IRC casemapping; refused in `admins`).
    case user(platform: String, user: String)
    /// `irc:~ACCOUNT`: a services account, from the message's `account` tag.
    case ircAccount(String)
    /// `irc:NICK!USER@HOST` with `*` and `?` wildcards in each part.
    case ircMask(String)

    package struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        package let message: String
        package var description: String { message }
    }

    /// Parses an entry; throws with what is wrong and what to write instead.
    package init(parsing text: String) throws(ParseError) {
        if text == "*" {
            self = .everyone
            return
        }
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw ParseError(message: "\(text.debugDescription) is not platform:user (such as \"irc:~alice\" or \"webhook:*\")")
        }
        let platform = String(text[..<colon])
        let user = String(text[text.index(after: colon)...])
        if user == "*" {
            self = .platform(platform)
            return
        }
        guard !user.isEmpty else { throw ParseError(message: "\(text.debugDescription): the user part is empty") }
        guard platform == "irc" else {
            self = .user(platform: platform, user: user)
            return
        }
        guard !user.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) else {
            throw ParseError(message: "\(text.debugDescription): IRC names hold no spaces or control characters")
        }
        if user.hasPrefix("~") {
            guard user.count > 1, !user.contains("!"), !user.contains("@") else {
                throw ParseError(message: "\(text.debugDescription): expected irc:~ACCOUNT (a services account name)")
            }
            self = .ircAccount(String(user.dropFirst()))
        } else if user.contains("!") || user.contains("@") {
            let parts = user.split(separator: "!", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ParseError(message: "\(text.debugDescription): expected irc:NICK!USER@HOST (wildcards * and ?)")
            }
            let address = parts[1].split(separator: "@", omittingEmptySubsequences: false)
            guard address.count == 2, !address[0].isEmpty, !address[1].isEmpty else {
                throw ParseError(message: "\(text.debugDescription): expected irc:NICK!USER@HOST (wildcards * and ?)")
            }
            self = .ircMask(user)
        } else {
            self = .user(platform: platform, user: user)
        }
    }

    /// True for `irc:NICK`: a name anyone may take when it is free, so never an admin.
    package var isBareIRCNick: Bool {
        if case .user("irc", _) = self { true } else { false }
    }

    /// True when anyone on IRC can match it: `*`, `irc:*`, or a mask whose host part is all
    /// wildcards (`irc:*!*@*`, `irc:alice!*@*`): a nick and a user name are whatever the client
    /// says, only the host is the server's. In `admins` that hands exec quick commands and
    /// /restart to whoever connects and picks the name (a load warning says so).
    package var matchesAnyoneOnIRC: Bool {
        switch self {
        case .everyone, .platform("irc"): true
        case .ircMask(let mask): mask.split(separator: "@").last.map { $0.allSatisfy { $0 == "*" || $0 == "?" } } ?? false
        default: false
        }
    }

    /// Whether the sender of `message` is the one this entry names.
    package func matches(_ message: InboundMessage) -> Bool {
        switch self {
        case .everyone:
            return true
        case .platform(let platform):
            return message.platform == platform
        case .user(let platform, let user):
            guard message.platform == platform else { return false }
            return platform == "irc" ? IRCCasemapping.equal(user, message.user) : user == message.user
        case .ircAccount(let account):
            guard message.platform == "irc", let verified = message.account else { return false }
            return IRCCasemapping.equal(account, verified)
        case .ircMask(let pattern):
            guard message.platform == "irc", let mask = message.hostmask else { return false }
            return IRCCasemapping.wildcardMatch(pattern, mask)
        }
    }
}

/// IRC's `rfc1459` casemapping: A-Z are a-z, and `[]\~` are `{}|^` (Scandinavian lowercase).
/// Nicks and accounts are compared this way; non-ASCII characters as they are.
package enum IRCCasemapping {
    package static func fold(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "A"..."Z": scalars.append(Unicode.Scalar(scalar.value + 32)!)
            case "[": scalars.append("{")
            case "]": scalars.append("}")
            case "\\": scalars.append("|")
            case "~": scalars.append("^")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    package static func equal(_ a: String, _ b: String) -> Bool { fold(a) == fold(b) }

    /// `*` is any run of characters (none included), `?` exactly one; the rest case-folded.
    /// Iterative, with one backtrack point: linear in practice, never exponential.
    package static func wildcardMatch(_ pattern: String, _ text: String) -> Bool {
        let p = Array(fold(pattern).unicodeScalars), t = Array(fold(text).unicodeScalars)
        var pi = 0, ti = 0
        var star: Int?, resume = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                resume = ti
                pi += 1
            } else if let star {
                pi = star + 1
                resume += 1
                ti = resume
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
