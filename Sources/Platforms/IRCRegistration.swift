import GatewayCore

/// Registration with an IRC server, as a state machine fed the server's lines: IRCv3 capability
/// negotiation (`CAP LS 302`, `CAP REQ` for what the server offers of `account-tag`,
/// `extended-join`, `account-notify`, and `sasl`), SASL PLAIN when configured, NICK/USER, a `_`
/// more for a taken nick, up to the welcome (001). A server without CAP just welcomes us.
///
/// Why `account-tag`: the server then tags each PRIVMSG with the sender's services account,
/// which is what `irc:~ACCOUNT` in `access` is checked against (a nick proves nothing).
struct IRCRegistration {
    /// What to do after a line.
    struct Step {
        var send: [IRCMessage] = []
        /// The connection must end (SASL configured but refused or not offered).
        var failure: String?
        var welcomed = false
    }

    let sasl: IRCConfiguration.SASLCredentials?
    private(set) var nick: String
    private(set) var enabled: Set<String> = []
    private(set) var welcomed = false
    /// The bot's own account once SASL succeeded (900).
    private(set) var account: String?
    private var offered: [String: String] = [:]

    init(nick: String, sasl: IRCConfiguration.SASLCredentials?) {
        self.nick = nick
        self.sasl = sasl
    }

    /// The first lines: CAP LS suspends registration until CAP END.
    var opening: [IRCMessage] {
        [IRCMessage(command: "CAP", parameters: ["LS", "302"]),
         IRCMessage(command: "NICK", parameters: [nick]),
         IRCMessage(command: "USER", parameters: [nick, "0", "*", "gatewayd"])]
    }

    var accountTags: Bool { enabled.contains("account-tag") }

    mutating func handle(_ message: IRCMessage) -> Step {
        var step = Step()
        let p = message.parameters
        switch message.command {
        case "CAP" where p.count >= 3:
            switch p[1].uppercased() {
            case "LS":
                for item in (p.last ?? "").split(separator: " ") {
                    let parts = item.split(separator: "=", maxSplits: 1)
                    offered[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
                }
                if p.count >= 4 && p[2] == "*" { break }  // more LS lines follow
                var wanted = GatewayConstants.IRC.capabilities.filter { offered[$0] != nil }
                if sasl != nil {
                    guard let mechanisms = offered["sasl"], mechanisms.isEmpty || mechanisms.split(separator: ",").contains("PLAIN") else {
                        step.failure = "SASL is configured (sasl_user) but the server offers no SASL PLAIN"
                        return step
                    }
                    wanted.append("sasl")
                }
                step.send = wanted.isEmpty ? [end()] : [IRCMessage(command: "CAP", parameters: ["REQ", wanted.joined(separator: " ")])]
            case "ACK":
                enabled.formUnion((p.last ?? "").split(separator: " ").filter { !$0.hasPrefix("-") }.map(String.init))
                step.send = sasl != nil && enabled.contains("sasl")
                    ? [IRCMessage(command: "AUTHENTICATE", parameters: ["PLAIN"])] : [end()]
            case "NAK":
                if sasl != nil {
                    step.failure = "the server refused the capabilities asked for (\(p.last ?? "")), SASL among them"
                } else {
                    step.send = [end()]
                }
            default:
                break
            }
        case "AUTHENTICATE" where p.first == "+":
            if let sasl { step.send = Self.plainPayload(sasl) }
        case "900" where p.count >= 3:
            account = p[2]
        case "903", "907":
            step.send = [end()]
        case "902", "904", "905", "906", "908":
            step.failure = "SASL login as \(sasl?.user ?? "?") failed: \(message.command) \(p.last ?? "")"
        case "421" where p.count >= 2 && p[1].uppercased() == "CAP":
            if sasl != nil { step.failure = "SASL is configured (sasl_user) but the server does not know CAP" }
        case "001":
            if sasl != nil && account == nil {
                step.failure = "the server welcomed the gateway without the SASL login (sasl_user) it was asked for"
                return step
            }
            nick = p.first ?? nick
            welcomed = true
            step.welcomed = true
        case "433", "432", "437":
            guard !welcomed else { break }
            nick += "_"
            step.send = [IRCMessage(command: "NICK", parameters: [nick])]
        default:
            break
        }
        return step
    }

    private func end() -> IRCMessage { IRCMessage(command: "CAP", parameters: ["END"]) }

    /// `AUTHENTICATE` lines with base64 of `user NUL user NUL password` in chunks of 400, and a
    /// `+` after a last chunk of exactly 400 (how the server knows it ended).
    static func plainPayload(_ sasl: IRCConfiguration.SASLCredentials) -> [IRCMessage] {
        let user = Array(sasl.user.utf8)
        let encoded = Base64.encode(user + [0] + user + [0] + sasl.password)
        var lines: [IRCMessage] = []
        var rest = Substring(encoded)
        while !rest.isEmpty {
            lines.append(IRCMessage(command: "AUTHENTICATE", parameters: [String(rest.prefix(400))]))
            rest = rest.dropFirst(400)
        }
        if encoded.count % 400 == 0 { lines.append(IRCMessage(command: "AUTHENTICATE", parameters: ["+"])) }
        return lines
    }
}

/// Standard base64 with padding (RFC 4648), for SASL.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index], b1 = index + 1 < bytes.count ? bytes[index + 1] : 0, b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(index + 1 < bytes.count ? alphabet[Int((b1 & 0x0f) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(b2 & 0x3f)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
