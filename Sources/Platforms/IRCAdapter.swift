import GatewayCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOConcurrencyHelpers

/// Plain IRC (RFC 1459/2812, IRCv3 capabilities where the server has them) over TCP or TLS:
/// registers (SASL PLAIN when configured; a taken nick gets a `_`), answers PING, joins the
/// configured channels, takes PRIVMSGs addressed to it (`nick: ...`, a leading `/`, or the
/// configured prefix such as `!`) in channels and every direct message, answers in the same
/// place through `IRCOutbox` (flood limit, admins first, bounded, kept across reconnects), and
/// reconnects with exponential backoff when the server goes away.
///
/// Who sent a message is what the server vouches for: the `account` tag (IRCv3 `account-tag`)
/// and the `nick!user@host` prefix go into the `InboundMessage` for `access` to match; the nick
/// alone is only the name shown and the address replies go to.
package final class IRCAdapter: PlatformAdapter, @unchecked Sendable {
    package let name = "irc"
    /// Room for the server's `:nick!user@host PRIVMSG #channel :` prefix within 512 bytes.
    package let maxMessageBytes = 400
    package let configuration: IRCConfiguration
    /// Built once at start (a bad CA file is a config error, not a reconnect loop).
    let tls: NIOSSLContext?
    /// The daemon's one event-loop group (not shut down here).
    let group: any EventLoopGroup
    /// Opens each connection instead of TCP (see `Connector`); nil in the daemon.
    private let connector: Connector?
    let state: NIOLockedValueBox<State>
    let outbox: IRCOutbox
    private let logger: Logger
    private let registrationCount = WaitableCount()
    private let failureCount = WaitableCount()
    private let disconnectionCount = WaitableCount()
    private let droppedMessageCount = WaitableCount()

    struct State {
        /// `configuration` with what a reload changed in place (channels, prefix, per-user sessions).
        var settings: IRCConfiguration
        var health = PlatformHealth(.connecting, "not connected yet")
        /// Closed by `stop()`: ending the connection is what ends the read loop.
        var connection: (any Channel)?
        var nick = ""
        /// ", logged in as ACCOUNT" once SASL said so, for the health detail.
        var login = ""
        /// Asks for the configured nick again while registered under a fallback one.
        var regain: Task<Void, Never>?
        /// The channels the server says the bot is in (its JOIN echoes, less PART and KICK), in
        /// the order joined: health names these, not the configured ones it may not have got into.
        var joined: [String] = []
        /// `stop()` began: new messages are not taken; replies still go out.
        var closing = false
        /// No more reconnects.
        var stopping = false
        /// The adapter a reload replaced this one by (see `handOver`).
        var successor: (any PlatformAdapter)?
        /// Why it stops, for the QUIT message.
        var quitMessage = "gatewayd stopping"
        var lastError: String?
        var loop: Task<Void, Never>?
        var writer: Task<Void, Never>?
        /// Messages handed to the dispatcher and not yet done with, and those dropped since the
        /// last one taken (see `admitInbound`).
        var inFlight = 0
        var droppedSince = 0
    }

    /// `connector`: where connections come from instead of TCP to `configuration.host` (the
    /// ircstate fuzz target hands a testing channel); nil, as the daemon has it, connects.
    package init(configuration: IRCConfiguration, logger: Logger = Logger(label: "gatewayd.irc"),
                eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, connector: Connector? = nil) throws(PlatformError) {
        self.configuration = configuration
        self.connector = connector
        state = NIOLockedValueBox(State(settings: configuration))
        group = eventLoops
        self.logger = logger
        outbox = IRCOutbox(burst: configuration.floodBurst, perSecond: configuration.floodPerSecond, logger: logger,
                           unconfirmedReplyWindow: configuration.unconfirmedReplyWindow)
        tls = try Self.tlsContext(configuration)
    }

    /// The TLS context `tls: true` asks for (nil without TLS): a bad CA file is a config error,
    /// found by `--check-config` and a reload as well as a start, without building an adapter
    /// (which owns an event-loop thread).
    package static func tlsContext(_ configuration: IRCConfiguration) throws(PlatformError) -> NIOSSLContext? {
        guard configuration.tls else { return nil }
        var settings = TLSConfiguration.makeClientConfiguration()
        do {
            if let file = configuration.tlsCAFile {
                // Read here, not by BoringSSL's fopen: a FIFO or a device must not block the reader.
                let pem = try configuration.tlsCAPEM ?? FileBytes.read(file, limit: GatewayConstants.IRC.maxCAFileBytes, regularFileOnly: true)
                settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(pem))
            }
            return try NIOSSLContext(configuration: settings)
        } catch {
            throw PlatformError("\(configuration.tlsCAFile ?? "the system's trust roots"): \(error)")
        }
    }

    // MARK: What tests and the daemon watch

    /// Why the last connection attempt failed (a refused connection, a TLS handshake, SASL), if one did.
    package var lastConnectionError: String? { state.withLockedValue { $0.lastError } }

    /// Returns once `count` connection attempts in all have failed.
    package func waitForFailedConnections(_ count: Int) async { await failureCount.wait(for: count) }

    /// Returns once it has registered with a server `count` times in all (the first connection,
    /// then each reconnect).
    package func waitForRegistration(_ count: Int = 1) async { await registrationCount.wait(for: count) }

    /// Returns once `count` registered connections in all have ended.
    package func waitForDisconnection(_ count: Int) async { await disconnectionCount.wait(for: count) }

    /// How many times it has registered with a server (tests watch reconnects with it).
    package var registrations: Int { registrationCount.value }

    /// Reply lines waiting to be sent.
    package var queuedLines: Int { outbox.queued }
    /// Returns once `count` incoming messages in all were dropped because too many were being
    /// handled already (true), or after `limit` (false).
    package func waitForDroppedMessages(_ count: Int, within limit: Duration) async -> Bool {
        await droppedMessageCount.wait(for: count, within: limit)
    }
    /// Reply lines dropped at the queue's caps, in all.
    package var droppedLines: Int { outbox.dropped.value }
    /// Private-reply lines not delivered because the nick was no longer the asker's, in all.
    package var withheldLines: Int { outbox.withheld.value }
    /// Returns once `count` lines in all were withheld (true), or after `limit` (false).
    package func waitForWithheldLines(_ count: Int, within limit: Duration) async -> Bool {
        await outbox.withheld.wait(for: count, within: limit)
    }

    // MARK: PlatformAdapter

    package func start(inbound: any InboundHandler) async throws {
        let outbox = self.outbox
        state.withLockedValue { state in
            guard state.loop == nil else { return }
            state.writer = Task { await outbox.run() }
            state.loop = Task { await self.run(inbound) }
        }
    }

    package func waitUntilReady(within limit: Duration) async {
        _ = await registrationCount.wait(for: 1, within: limit)
    }

    package func stop() async { await stop(flushingWithin: GatewayConstants.IRC.stopFlushDefault) }

    /// Takes no new messages, lets the queued replies go out until `limit` has passed, then
    /// says QUIT and waits (briefly, within the limit) for the server to close the connection.
    /// With no connection at the time, the wait for one is at most `stopFlushDefault`: a stop
    /// with the server down should not take the whole drain time for nothing.
    package func stop(flushingWithin limit: Duration) async {
        let deadline = ContinuousClock.now + (outbox.isConnected ? limit : min(limit, GatewayConstants.IRC.stopFlushDefault))
        state.withLockedValue {
            $0.closing = true
            $0.regain?.cancel()
        }
        _ = await outbox.flush(until: deadline)
        let (connection, loop, writer) = state.withLockedValue { state in
            state.stopping = true
            return (state.connection, state.loop, state.writer)
        }
        if let connection, outbox.isConnected {
            outbox.sendControl(IRCMessage(command: "QUIT", parameters: [state.withLockedValue { $0.quitMessage }]))
            // The server answers QUIT by closing; if it does not, close it ourselves.
            let grace = max(.milliseconds(100), min(.seconds(2), deadline - .now))
            let closer = Task {
                guard (try? await Task.sleep(for: grace)) != nil else { return }
                try? await connection.close()
            }
            await loop?.value
            closer.cancel()
        } else {
            loop?.cancel()
            try? await state.withLockedValue({ $0.connection })?.close()
            await loop?.value
        }
        outbox.finish()
        await writer?.value
        reportUnsent(outbox.discardQueued())
    }

    /// Lines still queued at exit: their replies stay in the delivery ledger (told through
    /// `discardQueued`) and go out after the next start; without a ledger they are lost.
    private func reportUnsent(_ unsent: (lines: Int, targets: Int)) {
        guard unsent.lines > 0 else { return }
        logger.warning("IRC: \(unsent.lines) reply line(s) to \(unsent.targets) chat(s) were still queued at exit; the delivery ledger sends them after the next start (without a state store they are lost)", metadata: [
            "event": "irc_unsent_at_stop", "platform": "irc", "dropped": "\(unsent.lines)", "targets": "\(unsent.targets)",
        ])
    }

    /// A reply with no request waiting for it (after a restart): queued (bounded) even while the
    /// server is away; it goes out once connected. To a nick, only once a WHOIS shows the
    /// address's person holds it (same account, else same `nick!user@host`): the message came to
    /// an earlier process, so nothing seen since says the nick is still theirs. An address
    /// without an identity is withheld (counted and logged like every withheld reply).
    package func send(_ text: String, to address: ChatAddress) async throws {
        let failure = NIOLockedValueBox<DeliveryFailure?>(nil)
        await send(text, to: address) { reason in failure.withLockedValue { $0 = reason } }
        // Queued (the line goes later) or refused at once.
        if let reason = failure.withLockedValue({ $0 }) { throw reason }
    }

    /// `taken` is told once the last line is written (or withheld, or dropped).
    package func send(_ text: String, to address: ChatAddress, taken: @escaping @Sendable (DeliveryFailure?) -> Void) async {
        let chat = address.chat
        let (stopping, successor) = state.withLockedValue { ($0.stopping, $0.successor) }
        // Replaced in turn while a reply handed over to it was on its way (two reloads during
        // one turn): its own successor serves now.
        if stopping, let successor { return await successor.send(text, to: address, taken: taken) }
        guard !stopping else { return taken(DeliveryFailure(.unreachable, "the IRC adapter is stopped", certainlyUnsent: true)) }
        guard IRCText.isChannel(chat) || IRCText.isNick(chat) else {
            return taken(DeliveryFailure(.refused, "\(chat.debugDescription) is not a nick or channel"))
        }
        let recipient = IRCText.isChannel(chat)
            ? nil : IRCRecipient(nick: chat, hostmask: address.hostmask, account: address.account, privileged: false, seen: nil)
        let parts = IRCText.privmsgParts(text, maxBytes: textBudget(for: chat))
        outbox.enqueue(parts, to: chat, lane: .normal, recipient: recipient, taken: taken)
    }

    /// `send(_:to:)` with no identity: a channel's reply goes; a nick's is withheld.
    package func send(_ text: String, to chat: String) async throws {
        try await send(text, to: ChatAddress(platform: name, chat: chat))
    }

    package func health() async -> PlatformHealth { state.withLockedValue { $0.health } }

    package var canSendLater: Bool { true }

    /// A reply to a message: split into PRIVMSGs and queued in its lane.
    func reply(_ text: String, to target: String, lane: IRCLane, recipient: IRCRecipient?,
               taken: @escaping @Sendable (DeliveryFailure?) -> Void = { _ in }) async {
        let successor = state.withLockedValue { $0.stopping ? $0.successor : nil }
        if let successor {
            // This connection is gone (a reload replaced the adapter): the successor's, with the
            // recipient as the message named them, confirmed there as any late reply is.
            let address = ChatAddress(platform: name, chat: target, account: recipient?.account, hostmask: recipient?.hostmask)
            let logger = self.logger
            await successor.send(text, to: address) { failure in
                if let failure {
                    logger.warning("IRC: a reply to \(target) after the adapter was replaced was not delivered: \(failure)",
                                   metadata: ["event": "reply_undelivered", "platform": "irc"])
                }
                taken(failure)
            }
            return
        }
        let parts = IRCText.privmsgParts(text, maxBytes: textBudget(for: target))
        let lost = outbox.enqueue(parts, to: target, lane: lane, recipient: recipient, taken: taken)
        if lost > 0 && lost == parts.count && state.withLockedValue({ $0.stopping }) {
            logger.warning("IRC: a reply to \(target) came after the adapter stopped and was not delivered",
                           metadata: ["event": "reply_undelivered", "platform": "irc"])
        }
    }

    /// The most text one PRIVMSG to `target` may carry so that the line the server relays
    /// (`:nick!user@host PRIVMSG target :text` and CRLF, user and host at their usual maximum
    /// lengths) fits in 512 bytes; never more than `maxMessageBytes`.
    func textBudget(for target: String) -> Int {
        let nick = state.withLockedValue { $0.nick.isEmpty ? configuration.nick : $0.nick }
        let relayedPrefix = 1 + nick.utf8.count + 1 + 10 + 1 + 63 + 1
        let fixed = IRCMessage.maxLineBytes - 2 - "PRIVMSG ".utf8.count - target.utf8.count - " :".utf8.count
        return max(64, min(maxMessageBytes, fixed - relayedPrefix))
    }

    // MARK: Connection

    private func run(_ inbound: any InboundHandler) async {
        var backoff = configuration.reconnectMin
        while !Task.isCancelled && !state.withLockedValue({ $0.stopping }) {
            let registered: Bool
            do {
                registered = try await session(inbound)
            } catch {
                registered = false
                state.withLockedValue { state in
                    state.health = PlatformHealth(.down, "\(configuration.host):\(configuration.port): \(error)")
                    state.lastError = "\(error)"
                }
                if !state.withLockedValue({ $0.stopping }) {
                    logger.warning("IRC: \(configuration.host):\(configuration.port): \(error)", metadata: ["event": "platform_failed", "platform": "irc"])
                }
                failureCount.add()
            }
            if state.withLockedValue({ $0.stopping }) { break }
            if registered { backoff = configuration.reconnectMin }
            let wait = backoff
            state.withLockedValue { $0.health = PlatformHealth(.connecting, "reconnecting in \(wait)") }
            do { try await Task.sleep(for: wait) } catch { break }
            backoff = min(backoff * 2, configuration.reconnectMax)
            GatewayMetrics.shared.platformReconnected(name)
        }
        state.withLockedValue { $0.health = PlatformHealth(.down, "stopped") }
    }

    /// One connection, until the server closes it. True when it got as far as registering; a
    /// connection that ends before the welcome is a failure (thrown), with the reason.
    private func session(_ inbound: any InboundHandler) async throws -> Bool {
        let channel = if let connector { try await connector() } else { try await connect() }
        let stopping = state.withLockedValue { state in
            state.connection = channel.channel
            return state.stopping
        }
        if stopping { try? await channel.channel.close() }
        defer { state.withLockedValue { $0.connection = nil } }
        var registration = IRCRegistration(nick: configuration.nick, sasl: configuration.sasl)
        defer { if registration.welcomed { disconnectionCount.add() } }
        try await channel.executeThenClose { lines, outbound in
            let generation = outbox.attach(outbound)
            defer { outbox.detach(generation) }
            state.withLockedValue { $0.nick = registration.nick }
            for message in registration.opening { outbox.sendControl(message) }
            // A server that never finishes registering us does not hold the connection forever.
            let timeout = Task { [channel = channel.channel] in
                guard (try? await Task.sleep(for: GatewayConstants.IRC.registrationTimeout)) != nil else { return }
                try? await channel.close()
            }
            defer { timeout.cancel() }
            for try await line in lines {
                guard let message = IRCMessage(line: line) else { continue }
                if message.command == "PING" {
                    outbox.sendControl(Self.pong(message))
                } else if !registration.welcomed {
                    let step = registration.handle(message)
                    for reply in step.send { outbox.sendControl(reply) }
                    if let failure = step.failure { throw PlatformError(failure) }
                    if step.welcomed {
                        timeout.cancel()
                        welcomed(registration, generation)
                    }
                } else {
                    handleRegistered(message, registration, generation, inbound)
                }
            }
        }
        guard registration.welcomed else { throw PlatformError("the server closed the connection before welcoming the gateway") }
        return true
    }

    private func welcomed(_ registration: IRCRegistration, _ generation: UInt64) {
        let nick = registration.nick
        let login = registration.account.map { ", logged in as \($0)" } ?? ""
        let channels = state.withLockedValue {
            $0.nick = nick
            $0.login = login
            $0.joined = []
            $0.health = PlatformHealth(.up, Self.upDetail($0))
            $0.regain?.cancel()
            $0.regain = nil
            return $0.settings.channels
        }
        if !channels.isEmpty { outbox.sendControl(IRCMessage(command: "JOIN", parameters: [channels.joined(separator: ",")])) }
        if !IRCCasemapping.equal(nick, configuration.nick) { startRegaining(generation) }
        outbox.markRegistered(generation)
        registrationCount.add()
    }

    /// `host:port as NICK in #a,#b; not in #c, logged in as ACCOUNT`.
    private static func upDetail(_ state: State) -> String {
        let joinedKeys = Set(state.joined.map(IRCCasemapping.fold))
        let missing = state.settings.channels.filter { !joinedKeys.contains(IRCCasemapping.fold($0)) }
        return "\(state.settings.host):\(state.settings.port) as \(state.nick)"
            + (state.joined.isEmpty ? "" : " in \(state.joined.joined(separator: ","))")
            + (missing.isEmpty ? "" : "; not in \(missing.joined(separator: ","))") + state.login
    }

    /// The bot joined, left or was kicked from `channel`: health follows. Channels it was not
    /// configured for are remembered up to `maxOtherChannelsJoined`.
    private func noteMembership(_ channel: String, joined: Bool) {
        state.withLockedValue { state in
            let key = IRCCasemapping.fold(channel)
            state.joined.removeAll { IRCCasemapping.fold($0) == key }
            let configured = Set(state.settings.channels.map(IRCCasemapping.fold))
            if joined && (configured.contains(key)
                || state.joined.count(where: { !configured.contains(IRCCasemapping.fold($0)) }) < GatewayConstants.IRC.maxOtherChannelsJoined) {
                state.joined.append(channel)
            }
            if state.health.state == .up { state.health = PlatformHealth(.up, Self.upDetail(state)) }
        }
    }

    /// Late replies go to `successor` only when it connects to the same server: on another
    /// network a channel of the same name is other people's, and a nick (or services account)
    /// of the same name may be someone else's, which a WHOIS there cannot tell. Otherwise they
    /// are dropped and logged.
    package func handOver(to successor: any PlatformAdapter) {
        let sameServer = (successor as? IRCAdapter)?.configuration.host.lowercased() == configuration.host.lowercased()
        state.withLockedValue {
            $0.successor = sameServer ? successor : nil
            $0.quitMessage = "gatewayd reconnecting with new settings"
        }
    }

    /// Takes a reload's channels, prefix and per-user sessions on the open connection: PART
    /// for the channels gone, JOIN for the new ones (on the next welcome when not connected).
    /// False for anything else: that needs a new connection, so a new adapter.
    package func apply(_ settings: any PlatformSettings) async -> Bool {
        guard let new = settings as? IRCConfiguration else { return false }
        let outcome = state.withLockedValue { state -> (old: [String], registered: Bool)? in
            guard new.appliesInPlace(over: state.settings) else { return nil }
            let old = state.settings.channels
            state.settings = new
            let registered = state.health.state == .up
            if registered { state.health = PlatformHealth(.up, Self.upDetail(state)) }
            return (old, registered)
        }
        guard let outcome else { return false }
        let fold = { (channel: String) in IRCCasemapping.fold(channel) }
        let oldKeys = Set(outcome.old.map(fold)), newKeys = Set(new.channels.map(fold))
        let parted = outcome.old.filter { !newKeys.contains(fold($0)) }
        let joined = new.channels.filter { !oldKeys.contains(fold($0)) }
        if outcome.registered {
            if !parted.isEmpty { outbox.sendControl(IRCMessage(command: "PART", parameters: [parted.joined(separator: ","), "configuration reloaded"])) }
            if !joined.isEmpty { outbox.sendControl(IRCMessage(command: "JOIN", parameters: [joined.joined(separator: ",")])) }
        }
        let change = (parted.isEmpty ? "" : "; parting \(parted.joined(separator: ","))") + (joined.isEmpty ? "" : "; joining \(joined.joined(separator: ","))")
        logger.info("IRC: settings applied on the open connection\(change)", metadata: ["event": "platform_reloaded", "platform": "irc"])
        return true
    }

    /// After the welcome: messages for us, and what tells us a nick changed hands.
    private func handleRegistered(_ message: IRCMessage, _ registration: IRCRegistration, _ generation: UInt64,
                                  _ inbound: any InboundHandler) {
        let nick = state.withLockedValue { $0.nick }
        let fromUs = message.senderNick.map { IRCCasemapping.equal($0, nick) } ?? false
        switch message.command {
        case "PRIVMSG":
            let (closing, settings) = state.withLockedValue { ($0.closing, $0.settings) }
            guard !closing, var incoming = Self.inbound(message, nick: nick, prefix: settings.commandPrefix, accountTags: registration.accountTags)
            else { return }
            incoming.sessionPerUser = settings.sessionsPerUser
            guard admitInbound() else { return }
            let replies = IRCReplies(adapter: self, message: incoming, inbound: inbound, seen: IRCRecipient.Sighting(
                sequence: outbox.departureSequence, generation: generation, at: .now))
            Task {
                await inbound.handle(incoming, replies: replies)
                state.withLockedValue { $0.inFlight -= 1 }
            }
        case "NICK":
            guard let old = message.senderNick, let new = message.parameters.first else { return }
            if fromUs {
                state.withLockedValue {
                    $0.nick = new
                    if $0.health.state == .up { $0.health = PlatformHealth(.up, Self.upDetail($0)) }
                }
            } else {
                outbox.noteDeparture(old)
                outbox.noteDeparture(new)
                regainIfFreed(old, ourNick: nick)
            }
        case "JOIN" where fromUs:
            if let channel = message.parameters.first { noteMembership(channel, joined: true) }
        case "PART" where fromUs:
            if let channel = message.parameters.first { noteMembership(channel, joined: false) }
        case "KICK":
            if message.parameters.count >= 2, IRCCasemapping.equal(message.parameters[1], nick) {
                noteMembership(message.parameters[0], joined: false)
            }
        case "QUIT", "ACCOUNT":
            if let sender = message.senderNick, !fromUs {
                outbox.noteDeparture(sender)
                if message.command == "QUIT" { regainIfFreed(sender, ourNick: nick) }
            }
        case "311", "330", "318", "401":
            outbox.noteWhois(message)
        default:
            break
        }
    }

    /// Registered under a fallback nick: asks for the configured one every `nickRegainInterval`
    /// until it is ours, this connection ends, or the adapter stops (a bot answering as
    /// `gatewayd_` is not addressed by people who write `gatewayd: ...`).
    private func startRegaining(_ generation: UInt64) {
        let wanted = configuration.nick, interval = state.withLockedValue { $0.settings.nickRegainInterval }
        let task = Task { [weak self] in
            while (try? await Task.sleep(for: interval)) != nil {
                guard let self, self.outbox.isConnected, self.outbox.generation == generation else { return }
                let done = self.state.withLockedValue { $0.closing || IRCCasemapping.equal($0.nick, wanted) }
                if done { return }
                self.outbox.sendControl(IRCMessage(command: "NICK", parameters: [wanted]))
            }
        }
        state.withLockedValue { $0.regain = task }
    }

    /// The holder of the configured nick quit or changed nick: ask for it at once.
    private func regainIfFreed(_ departed: String, ourNick: String) {
        let wanted = configuration.nick
        guard IRCCasemapping.equal(departed, wanted), !IRCCasemapping.equal(ourNick, wanted) else { return }
        outbox.sendControl(IRCMessage(command: "NICK", parameters: [wanted]))
    }

    /// Whether one more message may be handed to the dispatcher: at most
    /// `GatewayConstants.IRC.maxInboundInFlight` at once. Past that (a flood faster than the
    /// dispatcher answers) messages are dropped, counted and logged, so that memory stays bounded
    /// rather than growing with a task per waiting message.
    private func admitInbound() -> Bool {
        let (admitted, dropped) = state.withLockedValue { state -> (Bool, Int) in
            guard state.inFlight < GatewayConstants.IRC.maxInboundInFlight else {
                state.droppedSince += 1
                return (false, state.droppedSince)
            }
            state.inFlight += 1
            defer { state.droppedSince = 0 }
            return (true, state.droppedSince)
        }
        if !admitted {
            droppedMessageCount.add()
            if dropped == 1 {
                logger.warning("IRC: dropping messages: \(GatewayConstants.IRC.maxInboundInFlight) are being handled already", metadata: [
                    "event": "irc_inbound_dropped", "platform": "irc",
                ])
            }
        } else if dropped > 0 {
            logger.warning("IRC: \(dropped) message(s) were dropped while \(GatewayConstants.IRC.maxInboundInFlight) were being handled; \(droppedMessageCount.value) in all", metadata: [
                "event": "irc_inbound_dropped", "platform": "irc", "dropped": "\(dropped)", "dropped_total": "\(droppedMessageCount.value)",
            ])
        }
        return admitted
    }
}
