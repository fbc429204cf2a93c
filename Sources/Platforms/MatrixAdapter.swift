import GatewayCore
import JSON
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

/// Matrix through the client-server API (v3): `/sync` long polling, replies as room messages.
///
/// Nothing taken is lost and nothing is read twice across restarts: the `since` token of the
/// next sync is stored (`PlatformCursorStore`, key `matrix:<user_id>`) only once every message
/// of the batch was taken by the dispatcher (see `InboundReceipt`). The first start with no
/// stored token takes the initial sync's position without answering the rooms' history.
///
/// Rooms: those in `rooms` are joined at start; an invite is taken when the inviter is allowed
/// (`InboundHandler.isAllowed`), otherwise rejected. A room with `m.room.encryption` is refused
/// (one journal line per room) and never answered: end-to-end encryption is out of scope.
/// A room with two joined members (the bot and one person) is a direct chat, any other a group.
///
/// `M_LIMIT_EXCEEDED` waits `retry_after_ms` and sends again; a refused token puts health
/// `down` with one journal error, and syncs again with backoff, as network errors do (health
/// `connecting`). The token is never logged: see `MatrixClientAPI.redact`.
package final class MatrixAdapter: PlatformAdapter, @unchecked Sendable {
    package let name = GatewayConstants.matrixPlatform
    /// Replies are split here (`Defaults.maxMessageBytes`), so that a streamed reply's edits
    /// know where a message ends.
    package let maxMessageBytes = Int.max
    package let configuration: MatrixConfiguration
    let api: MatrixClientAPI
    let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// The first successful sync (`waitUntilReady`).
    private let ready = WaitableCount()
    /// Replies being sent now, for `stop(flushingWithin:)`.
    let sends = SendsInFlight()
    /// Transaction ids: unique in this process (a random prefix, then a count), the same for
    /// every retry of one event, so that the homeserver takes a retried send once.
    let transactions = TransactionIDs()
    /// What is known of each joined room (encrypted, members), kept by the sync loop.
    let rooms = NIOLockedValueBox<[String: RoomInfo]>([:])

    private struct State {
        var health = PlatformHealth(.connecting, "starting")
        var loop: Task<Void, Never>?
        var stopped = false
        var successor: (any PlatformAdapter)?
    }

    /// `transport`: what sends the requests instead of the HTTP client (the matrix fuzz target
    /// answers from its input); nil, as the daemon has it, talks to the homeserver.
    package init(configuration: MatrixConfiguration, logger: Logger = Logger(label: "gatewayd.matrix"),
                 eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, transport: MatrixTransport? = nil) {
        self.configuration = configuration
        self.logger = logger
        api = MatrixClientAPI(configuration: configuration, eventLoops: eventLoops, transport: transport)
    }

    package func start(inbound: any InboundHandler) async throws {
        let loop = Task { await self.run(inbound) }
        state.withLockedValue { $0.loop = loop }
    }

    package func stop() async { await stop(flushingWithin: GatewayConstants.replyFlushMargin) }

    /// Ends the long poll at once (no batch it has not handed over is confirmed), lets the
    /// replies under way finish for at most `limit`, then closes the HTTP client.
    package func stop(flushingWithin limit: Duration) async {
        let loop = state.withLockedValue { state -> Task<Void, Never>? in
            state.stopped = true
            state.health = PlatformHealth(.down, "stopped")
            return state.loop
        }
        loop?.cancel()
        await loop?.value
        if await !sends.waitUntilNone(within: limit) {
            logger.warning("matrix: stopping with \(sends.count) replies still being sent", metadata: ["event": "matrix_unsent"])
        }
        await api.shutdown()
    }

    package func waitUntilReady(within limit: Duration) async {
        await ready.wait(for: 1, within: limit)
    }

    package func handOver(to successor: any PlatformAdapter) {
        state.withLockedValue { $0.successor = successor }
    }

    package func health() async -> PlatformHealth { state.withLockedValue { $0.health } }

    package var canSendLater: Bool { true }

    /// Stopped (its client is shut down or about to be): a reply handed over now is not sent.
    var hasStopped: Bool { state.withLockedValue { $0.stopped } }

    /// Once stopped and replaced by a reload: the adapter that sends replies now.
    var successor: (any PlatformAdapter)? { state.withLockedValue { $0.stopped ? $0.successor : nil } }

    /// A reply with no request waiting (after a restart, a restart notice): to a room by its id.
    package func send(_ text: String, to chat: String) async throws {
        guard MatrixConfiguration.isRoomID(chat) else {
            throw DeliveryFailure(.refused, "matrix: \(chat.debugDescription) is not a room id")
        }
        if let successor {
            try await successor.send(text, to: chat)
            return
        }
        if hasStopped { throw DeliveryFailure(.unreachable, "the Matrix adapter has stopped", certainlyUnsent: true) }
        do { _ = try await sendMessage(text, to: chat) } catch { throw Self.deliveryFailure(error) }
    }

    // MARK: Syncing

    /// Once stopped, health stays `down`: a poll that ends after the stop began does not set it back.
    func setHealth(_ health: PlatformHealth) { state.withLockedValue { if !$0.stopped { $0.health = health } } }
    var stopped: Bool { state.withLockedValue { $0.stopped } || Task.isCancelled }
    var cursorKey: String { "\(name):\(configuration.userID)" }

    private func run(_ inbound: any InboundHandler) async {
        var backoff = Backoff(min: configuration.backoffMin, max: configuration.backoffMax)
        var since: String?
        var prepared = false, storedTokenRefused = false
        var failing: MatrixAPIError.Kind?
        while !stopped {
            do throws(MatrixAPIError) {
                try await signIn(inbound, useStored: !storedTokenRefused)
                if !prepared {
                    try await checkAccount()
                    since = await loadSince(inbound)
                    await joinConfiguredRooms()
                    prepared = true
                }
                let initial = since == nil
                let query = Self.syncQuery(since: since, pollTimeout: configuration.pollTimeout)
                let response = try await api.call(.GET, "/sync", query: query, timeout: configuration.pollTimeout + .seconds(30))
                let next = try Self.nextBatch(response)
                if failing != nil {
                    logger.notice("matrix: syncing again", metadata: ["event": "matrix_syncing"])
                    failing = nil
                }
                backoff.reset()
                setHealth(PlatformHealth(.up, "syncing as \(configuration.userID)"))
                // Stopped before all were taken: the position stays (what was taken may come again).
                guard try await take(response, initial: initial, inbound) else { break }
                since = next
                ready.add()
                if let cursors = inbound.cursors {
                    do { try await cursors.setCursor(next, for: cursorKey) } catch {
                        logger.warning("matrix: cannot store the sync position: \(error.message)", metadata: ["event": "matrix_since"])
                    }
                }
            } catch {
                if error.kind == .cancelled || stopped { break }
                if error.kind == .unknownToken, case .password = configuration.credential {
                    // A kept token that was revoked, or expired: the next try logs in again.
                    storedTokenRefused = true
                    api.forgetToken()
                }
                let wait: Duration
                if case .rateLimited(let retryAfter) = error.kind { wait = retryAfter } else { wait = backoff.next() }
                report(error, retryingIn: wait, previous: failing)
                failing = error.kind
                do { try await Task.sleep(for: wait) } catch { break }
            }
        }
    }

    /// With `password_file`, once there is no token: the one kept in `state.db` by an earlier
    /// login (unless it was refused), else a new login, whose token is kept for the next start.
    private func signIn(_ inbound: any InboundHandler, useStored: Bool) async throws(MatrixAPIError) {
        guard case .password(let password) = configuration.credential, !api.hasToken else { return }
        if useStored, let cursors = inbound.cursors, let stored = try? await cursors.cursor(for: tokenKey), !stored.isEmpty {
            api.use(token: stored)
            return
        }
        let token = try await api.login(user: configuration.userID, password: password.text)
        api.use(token: token)
        logger.notice("matrix: logged in as \(configuration.userID) with password_file; the access token is kept in state.db for the next start",
                      metadata: ["event": "matrix_logged_in"])
        do { try await inbound.cursors?.setCursor(token, for: tokenKey) } catch {
            logger.warning("matrix: cannot keep the access token in state.db (\(error.message)); the next start logs in again",
                           metadata: ["event": "matrix_token_not_kept"])
        }
    }

    /// Where a password login's token is kept (`state.db`, beside the sync position).
    var tokenKey: String { "\(name):\(configuration.userID):access_token" }

    /// `whoami`: the token is valid and is `user_id`'s (another account's would answer, and
    /// store its position, as someone else).
    private func checkAccount() async throws(MatrixAPIError) {
        try Self.checkAccount(try await api.call(.GET, "/account/whoami", timeout: .seconds(30)), userID: configuration.userID,
                              redact: api.redact)
    }

    /// A `whoami` answer names `userID`, or the error that says what to do. The account it
    /// names goes into the message (the journal, health) only when it is a user id (no line
    /// break, no space), with every secret redacted: the matrix fuzz target's finding.
    package static func checkAccount(_ me: JSONValue, userID: String, redact: (String) -> String) throws(MatrixAPIError) {
        guard let user = me.object?["user_id"]?.string else {
            throw MatrixAPIError(.malformed, "the homeserver's whoami answer has no user_id")
        }
        guard user == userID else {
            guard MatrixConfiguration.isIdentifier(user, sigils: "@") else {
                throw MatrixAPIError(.malformed, "the homeserver's whoami answer has a user_id that is not a user id")
            }
            let shown = redact(user)
            throw MatrixAPIError(.wrongAccount, "the access token is \(shown)'s, not user_id \(userID)'s: "
                + "set user_id to \(shown), or write \(userID)'s token to access_token_file")
        }
    }

    /// The stored position; nil (an initial sync, history not answered) when there is none.
    private func loadSince(_ inbound: any InboundHandler) async -> String? {
        guard let cursors = inbound.cursors else { return nil }
        do {
            return try await cursors.cursor(for: cursorKey)
        } catch {
            logger.warning("matrix: cannot read the stored sync position (\(error.message)); starting from now",
                           metadata: ["event": "matrix_since"])
            return nil
        }
    }

    /// `rooms` from the config, each joined (again: joining a room the bot is in does nothing).
    /// A failure is a warning: the other rooms and invites still work.
    private func joinConfiguredRooms() async {
        for room in configuration.rooms {
            do {
                _ = try await api.call(.POST, "/join/\(MatrixClientAPI.escape(room))", body: [:], timeout: .seconds(30))
            } catch {
                logger.warning("matrix: cannot join \(room) (platforms.matrix.rooms): \(error.message)",
                               metadata: ["event": "matrix_join_failed", "room": "\(room)"])
            }
        }
    }

    /// Health and the journal for a failed call: one error when a refused token begins (not
    /// one per sync), a warning when other failures begin, debug lines while they go on.
    private func report(_ error: MatrixAPIError, retryingIn wait: Duration, previous: MatrixAPIError.Kind?) {
        let again = "; syncing again in \(DurationValue.describe(wait))"
        switch error.kind {
        case .unknownToken:
            setHealth(PlatformHealth(.down, GatewayText.matrixUnknownToken))
            if previous != .unknownToken {
                logger.error("matrix: \(GatewayText.matrixUnknownToken) (\(error.message))\(again)",
                             metadata: ["event": "matrix_unknown_token", "platform": "matrix"])
            }
        case .wrongAccount:
            setHealth(PlatformHealth(.down, error.message))
            if previous != .wrongAccount {
                logger.error("matrix: \(error.message)\(again)", metadata: ["event": "matrix_wrong_account", "platform": "matrix"])
            }
        case .loginRefused:
            setHealth(PlatformHealth(.down, GatewayText.matrixLoginRefused))
            if previous != .loginRefused {
                logger.error("matrix: \(GatewayText.matrixLoginRefused) (\(error.message))\(again)",
                             metadata: ["event": "matrix_login_refused", "platform": "matrix"])
            }
        default:
            setHealth(PlatformHealth(.connecting, "\(error.message)\(again)"))
            if previous == nil || previous == .unknownToken || previous == .wrongAccount || previous == .loginRefused {
                logger.warning("matrix: \(error.message)\(again)", metadata: ["event": "matrix_sync_failed"])
            } else {
                logger.debug("matrix: \(error.message)\(again)", metadata: ["event": "matrix_sync_failed"])
            }
        }
    }
}

extension Duration {
    /// Whole milliseconds, as Matrix's `timeout` takes them.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

/// `<random prefix>.<count>`: unique in this process and across its restarts.
final class TransactionIDs: Sendable {
    private let prefix = String(UInt64.random(in: 0 ... .max), radix: 36)
    private let count = Synchronization.Atomic<Int>(0)

    func next() -> String { "\(prefix).\(count.add(1, ordering: .relaxed).newValue)" }
}
