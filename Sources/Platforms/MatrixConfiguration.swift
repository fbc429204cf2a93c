import GatewayCore

/// `platforms.matrix` in the config (read by `MatrixConfiguration+Reading.swift`).
package struct MatrixConfiguration: Sendable, Equatable {
    /// The reply's `msgtype`: `m.notice` (the default: clients and other bots treat notices as
    /// automatic, and bots do not answer them, so two bots in a room cannot loop) or `m.text`.
    package enum ReplyMessageType: String, Sendable, CaseIterable {
        case notice = "m.notice"
        case text = "m.text"
    }

    package enum Credential: Sendable, Equatable {
        /// `access_token_file`, or the systemd credential `matrix_access_token`: sent in the
        /// `Authorization` header as it is.
        case accessToken(Secret)
        /// `password_file`: a password login (`m.login.password`) at the first start; the token
        /// it gives is kept in `state.db` (in the state directory, 0600 under the shipped unit's
        /// `UMask=0077`) and used by later starts, and a new login is made when it is refused.
        case password(Secret)
    }

    /// `https://matrix.example.org`, without a trailing slash: the client-server API's base.
    package var homeserver: String
    /// `@bot:example.org`: the account the token belongs to (checked with `whoami` at start);
    /// its own messages are not answered, and it keys the stored `since` token.
    package var userID: String
    /// How the bot signs in: never logged, see `MatrixClientAPI.redact`.
    package var credential: Credential
    /// Room ids (`!abc:server`) or aliases (`#room:server`) joined at start. Other rooms are
    /// joined only when an allowed sender invites the bot.
    package var rooms: [String]
    /// Later parts of one reply edit its first message (`m.replace`) instead of following it.
    package var editStreaming: Bool
    package var replyMessageType: ReplyMessageType
    /// `/sync`'s `timeout`: how long one long poll waits for an event.
    package var pollTimeout: Duration
    /// The first wait after a failed sync, doubled after each failure up to `backoffMax`. Not
    /// config keys (the defaults are the policy); tests shorten them.
    package var backoffMin = Defaults.backoffMin
    package var backoffMax = Defaults.backoffMax

    package init(homeserver: String, userID: String, credential: Credential, rooms: [String] = [], editStreaming: Bool = false,
                 replyMessageType: ReplyMessageType = .notice, pollTimeout: Duration = Defaults.pollTimeout) {
        self.homeserver = homeserver
        self.userID = userID
        self.credential = credential
        self.rooms = rooms
        self.editStreaming = editStreaming
        self.replyMessageType = replyMessageType
        self.pollTimeout = pollTimeout
    }
}

extension MatrixConfiguration {
    /// The keys of `platforms.matrix`, in the order a reload's summary names them.
    package enum Key {
        static let homeserver = "homeserver", userID = "user_id", accessTokenFile = "access_token_file", rooms = "rooms"
        static let passwordFile = "password_file"
        static let editStreaming = "edit_streaming", replyMessageType = "reply_msgtype", pollTimeout = "poll_timeout"
        static let all = [homeserver, userID, accessTokenFile, passwordFile, rooms, editStreaming, replyMessageType, pollTimeout]
    }

    /// What a key left out means, and the limits the adapter keeps to.
    package enum Defaults {
        package static let pollTimeout: Duration = .seconds(30)
        /// `poll_timeout`'s range: a long poll of at least a second (0 would be a tight loop),
        /// and short enough that proxies and NATs keep the connection open.
        package static let pollTimeoutRange: ClosedRange<Duration> = .seconds(1) ... .seconds(120)
        /// `$CREDENTIALS_DIRECTORY/<this>` (`LoadCredential=matrix_access_token:...`): the token
        /// when `access_token_file` is not set.
        package static let credentialName = "matrix_access_token"
        package static let backoffMin: Duration = .seconds(1)
        package static let backoffMax: Duration = .seconds(60)
        /// One reply event's body at most, in UTF-8 bytes: far below the 64 KiB a whole event
        /// may have (JSON escaping, `m.new_content` doubling an edit's body), and long enough
        /// that a reply is rarely split.
        package static let maxMessageBytes = 16 * 1024
        /// The longest `retry_after_ms` honoured: a homeserver asking for more is waited this.
        package static let maxRetryAfter: Duration = .seconds(300)
        /// Events per room in one `/sync` answer. A room with more while gatewayd was down
        /// answers `limited` (the older ones are skipped, with a journal warning).
        package static let timelineLimit = 100
        /// The device name a password login gives the session (shown in the account's sessions).
        package static let deviceName = "gatewayd"
        /// Sends tried again after a network error or a 5xx, before the reply is left to the ledger.
        package static let maxSendRetries = 5
    }
}
