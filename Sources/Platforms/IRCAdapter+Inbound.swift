import GatewayCore

extension IRCAdapter {
    /// What a PRIVMSG means for the gateway; nil when it is not for us (a channel line not
    /// addressed to the bot, a CTCP, our own echo, a sender or channel name that could not be
    /// answered safely).
    static func inbound(_ message: IRCMessage, nick: String, prefix: String, accountTags: Bool) -> InboundMessage? {
        guard message.parameters.count >= 2, let sender = message.senderNick, IRCText.isNick(sender),
              !IRCCasemapping.equal(sender, nick) else { return nil }
        let target = message.parameters[0]
        var text = message.parameters[1]
        if text.hasPrefix("\u{1}") { return nil }  // CTCP (ACTION, VERSION, ...)
        // The server sets `account` (a client cannot: its own tags start with `+`); honoured
        // only when the capability was negotiated, and absent means not logged in.
        let account = accountTags ? message.tags["account"].flatMap { $0.isEmpty || $0 == "*" ? nil : $0 } : nil
        let hostmask = message.prefix.flatMap { $0.contains("!") && $0.contains("@") ? $0 : nil }
        let isChannel = target.hasPrefix("#") || target.hasPrefix("&")
        guard isChannel else {
            return InboundMessage(platform: "irc", chat: sender, chatType: .dm, user: sender, text: text,
                                  account: account, hostmask: hostmask)
        }
        guard IRCText.isChannel(target) else { return nil }
        let lowered = text.lowercased(), addressed = nick.lowercased()
        if lowered.hasPrefix(addressed + ":") || lowered.hasPrefix(addressed + ",") {
            text = String(text.dropFirst(nick.count + 1).drop { $0 == " " })
        } else if text.hasPrefix("/") {
            // a command as it is
        } else if !prefix.isEmpty, text.hasPrefix(prefix), text.count > prefix.count {
            text = "/" + text.dropFirst(prefix.count)
        } else {
            return nil
        }
        guard !text.isEmpty else { return nil }
        return InboundMessage(platform: "irc", chat: target, chatType: .group, user: sender, text: text,
                              account: account, hostmask: hostmask)
    }

    /// `inbound(_:nick:prefix:accountTags:)` from a raw line, for tests of the addressing rules.
    /// Testing SPI (`@_spi(Testing) import Platforms`; `public` only because `@_spi` requires it).
    @_spi(Testing) public static func inboundForTesting(_ line: String, nick: String, prefix: String, accountTags: Bool = true) -> InboundMessage? {
        IRCMessage(line: line).flatMap { inbound($0, nick: nick, prefix: prefix, accountTags: accountTags) }
    }
}
