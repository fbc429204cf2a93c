/// Where a message came from: a direct chat with one person, or a group/channel.
package enum ChatType: String, Sendable, Equatable {
    case dm
    case group
}

/// One chat message as a platform adapter hands it to the dispatcher.
package struct InboundMessage: Sendable, Equatable {
    package var platform: String
    package var chat: String
    package var chatType: ChatType
    package var user: String
    package var text: String
    /// In a group: one session per person (the default) or one the whole group shares (an IRC
    /// channel, unless `sessions_per_user` is set).
    package var sessionPerUser: Bool
    /// The sender's account as the network vouches for it (IRC: the IRCv3 `account` tag of this
    /// very message, set by the server from the services login); nil when not logged in or not
    /// known. `access` entries `irc:~ACCOUNT` match it.
    package var account: String?
    /// The sender's full address as the network gave it with this message (IRC:
    /// `nick!user@host`); `access` entries `irc:NICK!USER@HOST` match it.
    package var hostmask: String?

    package init(platform: String, chat: String, chatType: ChatType = .dm, user: String, text: String,
                sessionPerUser: Bool = true, account: String? = nil, hostmask: String? = nil) {
        self.platform = platform
        self.chat = chat
        self.chatType = chatType
        self.user = user
        self.text = text
        self.sessionPerUser = sessionPerUser
        self.account = account
        self.hostmask = hostmask
    }

    /// `platform:user`: how users and logs see the sender (`irc:alice`). Access matches more
    /// than this on IRC (`account`, `hostmask`).
    package var senderID: String { "\(platform):\(user)" }

    /// Local senders are the control socket's peers (`SendMessage`), already vetted by uid.
    package var isLocal: Bool { platform == GatewayConstants.localPlatform }

    /// `platform:chat_type:chat[:user]`: one session per direct chat, one per person in a group
    /// (or one for the group when it shares).
    package var sessionKey: String {
        switch chatType {
        case .dm: "\(platform):dm:\(chat)"
        case .group: sessionPerUser ? "\(platform):group:\(chat):\(user)" : "\(platform):group:\(chat)"
        }
    }
}

/// Where the dispatcher's replies to one message go. The platform adapter splits long replies at
/// its own limit.
package protocol ReplySink: Sendable {
    func send(_ text: String) async
}

/// A leading `/name` (lowercased, `@botname` stripped) and the words after it.
package struct ParsedCommand: Sendable, Equatable {
    package var name: String
    package var arguments: [String]
    /// The text after the name, as typed.
    package var argumentText: String

    /// nil when the text is not a command (no leading slash, or a path such as `/usr/bin`).
    package init?(_ text: String) {
        guard text.hasPrefix("/") else { return nil }
        let body = text.dropFirst()
        let word = body.prefix { !$0.isWhitespace }
        var name = String(word).lowercased()
        if let at = name.firstIndex(of: "@") { name = String(name[..<at]) }
        guard !name.isEmpty, !name.contains("/") else { return nil }
        self.name = name
        let rest = body.dropFirst(word.count).drop { $0.isWhitespace }
        argumentText = String(rest)
        arguments = rest.split(whereSeparator: \.isWhitespace).map(String.init)
    }
}
