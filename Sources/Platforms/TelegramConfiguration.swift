import GatewayCore

/// `platforms.telegram` in the config (read by `TelegramConfiguration+Reading.swift`).
package struct TelegramConfiguration: Sendable, Equatable {
    /// The bot token (`token_file`, or the systemd credential `telegram_token`). It is part of
    /// every Bot API URL's path, so it is never logged: see `TelegramBotAPI.redact`.
    package var token: Secret
    /// Without a trailing slash: `https://api.telegram.org`, or a local Bot API server.
    package var apiBase: String
    /// Only these chats are listened to (nil: every chat); others' messages are ignored.
    package var allowedChats: Set<Int64>?
    /// Later parts of one reply edit its first message instead of being sent after it.
    package var editStreaming: Bool
    /// `getUpdates`'s `timeout`: how long one long poll waits for an update.
    package var pollTimeout: Duration
    /// The first wait after a failed poll (a network error, 409 Conflict), doubled after each
    /// failure up to `backoffMax`. Not config keys (the defaults are the policy); tests shorten them.
    package var backoffMin = Defaults.backoffMin
    package var backoffMax = Defaults.backoffMax

    package init(token: Secret, apiBase: String = Defaults.apiBase, allowedChats: Set<Int64>? = nil,
                 editStreaming: Bool = false, pollTimeout: Duration = Defaults.pollTimeout) {
        self.token = token
        self.apiBase = apiBase
        self.allowedChats = allowedChats
        self.editStreaming = editStreaming
        self.pollTimeout = pollTimeout
    }
}

extension TelegramConfiguration {
    /// The keys of `platforms.telegram`, in the order a reload's summary names them.
    package enum Key {
        static let tokenFile = "token_file", apiBase = "api_base", allowedChats = "allowed_chats"
        static let editStreaming = "edit_streaming", pollTimeout = "poll_timeout"
        static let all = [tokenFile, apiBase, allowedChats, editStreaming, pollTimeout]
    }

    /// What a key left out means, and the Bot API's own limits.
    package enum Defaults {
        package static let apiBase = "https://api.telegram.org"
        package static let pollTimeout: Duration = .seconds(30)
        /// `poll_timeout`'s range: a long poll of at least a second (0 would be a tight loop),
        /// and short enough that proxies and NATs keep the connection open.
        package static let pollTimeoutRange: ClosedRange<Duration> = .seconds(1) ... .seconds(50)
        /// `$CREDENTIALS_DIRECTORY/<this>` (`LoadCredential=telegram_token:...`): the token when
        /// `token_file` is not set.
        package static let credentialName = "telegram_token"
        package static let backoffMin: Duration = .seconds(1)
        package static let backoffMax: Duration = .seconds(60)
        /// `sendMessage`'s limit, in UTF-16 code units (as Telegram counts).
        package static let maxMessageUTF16 = 4096
    }
}
