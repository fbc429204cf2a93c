import GatewayCore
import JSON

extension TelegramAdapter {
    /// The bot as `getMe` describes it: its id keys the stored offset (update ids are per bot,
    /// so another token's offset must not be used), its username is what `/cmd@name` names.
    struct Identity: Sendable, Equatable {
        var id: Int64
        var username: String
    }

    /// What one update means for the gateway; nil when it is not for us: not a message, not
    /// text, from a bot, from a chat not in `allowed_chats`, or a command for another bot.
    package static func inbound(_ update: JSONValue, botUsername: String, allowedChats: Set<Int64>?) -> InboundMessage? {
        guard let message = update.object?["message"]?.object, var text = message["text"]?.string, !text.isEmpty,
              let chat = message["chat"]?.object, let chatID = chat["id"]?.int,
              let from = message["from"]?.object, let userID = from["id"]?.int, from["is_bot"]?.bool != true
        else { return nil }
        if let allowedChats, !allowedChats.contains(chatID) { return nil }
        if text.hasPrefix("/") {
            // `/cmd@ourbot args` is `/cmd args`; `/cmd@otherbot` in a group is for the other bot.
            let word = text.prefix { !$0.isWhitespace }
            if let at = word.firstIndex(of: "@") {
                let addressee = word[word.index(after: at)...]
                guard addressee.lowercased() == botUsername.lowercased() else { return nil }
                text = String(word[..<at]) + text.dropFirst(word.count)
            }
        }
        let direct = chat["type"]?.string == "private"
        return InboundMessage(platform: GatewayConstants.telegramPlatform, chat: String(chatID), chatType: direct ? .dm : .group,
                              user: String(userID), text: text)
    }
}
