/// Durable state for the dispatcher: what it acknowledged is kept until its turn finished and the
/// reply was handed to the platform, so a restart or a crash loses nothing it promised.
///
/// Writes go to the store's own thread, never the dispatcher's: an exec quick command must
/// answer while the disk is full or another process holds the database lock. Calls are applied
/// in the order they were made (one writer), so a `markDone` never overtakes its `append`.
package protocol MessageStore: AnyObject, Sendable {
    /// Stores an agent-bound message; it is durable once this returns. Runs on the caller's
    /// executor up to the wait, so calls made in order on the dispatcher are written in order.
    nonisolated(nonsending) func append(_ message: InboundMessage, session: String) async throws(StoreError) -> Int64
    /// A turn starts for these messages (their attempt count goes up, the session's turn count too).
    func markActive(_ ids: [Int64], session: String)
    /// Their turn finished and its replies were handed over (or the user stopped or reset it).
    func markDone(_ ids: [Int64])
    /// A drain interrupted their turn: retried once after the restart.
    func markInterrupted(_ ids: [Int64])
    /// `/reset`: the session and everything it still had waiting.
    func forgetSession(_ key: String)
    /// The session's durable record (nil when the store has none), handed to `then` on the
    /// store's own thread once every call made before this one is applied: a session that comes
    /// back into memory (evicted, or beyond what recovery loaded) continues its turn count.
    func lookUpSession(_ key: String, then: @escaping @Sendable (SessionRecord?) -> Void)
    /// `/restart` from a chat: it is told when the gateway is back (a direct chat only if the
    /// person who asked still holds it: the address keeps their identity).
    func addRestartNotice(_ chat: ChatAddress) async throws(StoreError)
    /// What a new process picks up: the messages to replay, those given up on, restart notices
    /// (removed as they are returned) and the sessions. Applies the retry policy in the same
    /// transaction, so a crash during recovery cannot count an attempt twice.
    func recover(policy: RecoveryPolicy) async throws(StoreError) -> StoreRecovery
}

/// Where a reply goes when the chat's original request is gone (after a restart).
package struct ChatAddress: Sendable, Hashable {
    package var platform: String
    package var chat: String
    /// For a direct chat, who it is with as the network vouched when they wrote (see
    /// `InboundMessage.account` and `hostmask`). A chat's name is not always its person's: an IRC
    /// nick passes to whoever takes it once it is free, so the adapter confirms the holder
    /// against these before a private reply goes, and withholds it when they are nil (a group
    /// chat, or a message stored before gatewayd kept them).
    package var account: String?
    package var hostmask: String?

    package init(platform: String, chat: String, account: String? = nil, hostmask: String? = nil) {
        self.platform = platform
        self.chat = chat
        self.account = account
        self.hostmask = hostmask
    }

    /// Where replies to `message` go: its chat, with its sender's identity when it is a direct chat.
    package init(replyingTo message: InboundMessage) {
        let direct = message.chatType == .dm
        self.init(platform: message.platform, chat: message.chat,
                  account: direct ? message.account : nil, hostmask: direct ? message.hostmask : nil)
    }
}

/// A message kept by the store.
package struct StoredMessage: Sendable, Equatable {
    package var id: Int64
    package var session: String
    package var message: InboundMessage
    /// Turns started for it so far (a crash or a drain can end one before it finished).
    package var attempts: Int

    package init(id: Int64, session: String, message: InboundMessage, attempts: Int) {
        self.id = id
        self.session = session
        self.message = message
        self.attempts = attempts
    }
}

/// How often a message whose turn never finished is tried again.
package struct RecoveryPolicy: Sendable, Equatable {
    /// A turn interrupted by a drain (the gateway knew) is retried this many times.
    package var retriesAfterInterrupt = 1
    /// A turn still active when the process died (a crash, a kill -9, the watchdog) is parked once
    /// it was active across this many consecutive starts.
    package var parkAfterAttempts = 3
    /// Sessions loaded at start, most recently active first (`sessions.max`): with a million
    /// rows in the store, memory would otherwise hold them all. Sessions with messages to
    /// replay come too; the rest come back with their next message.
    package var maxSessions = SessionsConfig.defaultMax

    package init(maxSessions: Int = SessionsConfig.defaultMax) {
        self.maxSessions = maxSessions
    }
}

/// Why recovery gave up on a message; its chat is told.
package enum AbandonReason: Sendable, Equatable {
    /// Interrupted by drains more often than `retriesAfterInterrupt` allows.
    case interruptedAgain
    /// Active across `parkAfterAttempts` starts: probably what brings the gateway down.
    case parked
}

package struct SessionRecord: Sendable, Equatable {
    package var key: String
    package var turnCount: Int
    /// Tokens the session's turns used, summed.
    package var usage: AgentUsage

    package init(key: String, turnCount: Int, usage: AgentUsage = .none) {
        self.key = key
        self.turnCount = turnCount
        self.usage = usage
    }
}

package struct StoreRecovery: Sendable, Equatable {
    /// In the order they were received.
    package var replay: [StoredMessage] = []
    package var abandoned: [Abandoned] = []
    package var restartNotices: [ChatAddress] = []
    /// Most recently active first.
    package var sessions: [SessionRecord] = []

    package struct Abandoned: Sendable, Equatable {
        package var message: StoredMessage
        package var reason: AbandonReason

        package init(message: StoredMessage, reason: AbandonReason) {
            self.message = message
            self.reason = reason
        }
    }

    package init() {}
}

/// A store call that failed, with a code a caller can act on and a message for the chat and log.
package struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Code: String, Sendable {
        /// The disk (or the file system holding `state_dir`) is full.
        case full
        /// Another process holds the database lock past the busy timeout.
        case locked
        /// Any other I/O or SQLite failure.
        case failed
    }

    package let code: Code
    package let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
