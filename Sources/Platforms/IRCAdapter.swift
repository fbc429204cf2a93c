import GatewayCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Plain IRC (RFC 1459/2812) over TCP: registers (a taken nick gets a `_`), answers PING, joins
/// the configured channels, takes PRIVMSGs addressed to it (`nick: ...`, a leading `/`, or the
/// configured prefix such as `!`) in channels and every direct message, answers in the same
/// place, one line per PRIVMSG, under a token-bucket flood limit, and reconnects with
/// exponential backoff when the server goes away.
public final class IRCAdapter: PlatformAdapter, @unchecked Sendable {
    public let name = "irc"
    /// Room for the server's `:nick!user@host PRIVMSG #channel :` prefix within 512 bytes.
    public let maxMessageBytes = 400
    public let configuration: IRCConfiguration
    /// Built once at start (a bad CA file is a config error, not a reconnect loop).
    private let tls: NIOSSLContext?
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let state = Mutex(State())
    private let loop = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        var health = PlatformHealth(.connecting, "not connected yet")
        var sender: IRCSender?
        /// Closed by `stop()`: ending the connection is what ends the read loop.
        var connection: (any Channel)?
        var nick = ""
        var stopping = false
        var registrations = Tally()
        var failures = Tally()
        var lastError: String?
    }

    /// A count that tests (and anyone else) can wait on reaching a value.
    private struct Tally {
        var count = 0
        var waiters: [(Int, CheckedContinuation<Void, Never>)] = []

        /// Counts one; returns the waiters now satisfied, to resume outside the lock.
        mutating func add() -> [CheckedContinuation<Void, Never>] {
            count += 1
            let ready = waiters.filter { $0.0 <= count }.map(\.1)
            waiters.removeAll { $0.0 <= count }
            return ready
        }
    }

    /// Why the last connection attempt failed (a refused connection, a TLS handshake), if one did.
    public var lastConnectionError: String? { state.withLock { $0.lastError } }

    /// Returns once `count` connection attempts in all have failed.
    public func waitForFailedConnections(_ count: Int) async { await wait(for: \.failures, count) }

    /// Returns once it has registered with a server `count` times in all (the first connection,
    /// then each reconnect).
    public func waitForRegistration(_ count: Int = 1) async { await wait(for: \.registrations, count) }

    private func wait(for tally: WritableKeyPath<State, Tally>, _ count: Int) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state[keyPath: tally].count >= count { return true }
                state[keyPath: tally].waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    public init(configuration: IRCConfiguration) throws(PlatformError) {
        self.configuration = configuration
        guard configuration.tls else {
            tls = nil
            return
        }
        var settings = TLSConfiguration.makeClientConfiguration()
        do {
            if let file = configuration.tlsCAFile {
                settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            }
            tls = try NIOSSLContext(configuration: settings)
        } catch {
            throw PlatformError("platforms.irc.tls_ca_file: \(configuration.tlsCAFile ?? "system roots"): \(error)")
        }
    }

    /// How many times it has registered with a server (tests watch reconnects with it).
    public var registrations: Int { state.withLock { $0.registrations.count } }

    public func start(inbound: any InboundHandler) async throws {
        let task = Task { await self.run(inbound) }
        loop.withLock { $0 = task }
    }

    public func stop() async {
        let connection = state.withLock { state in
            state.stopping = true
            return state.connection
        }
        if let sender = state.withLock({ $0.sender }) { sender.send("QUIT :gatewayd stopping") }
        try? await connection?.close()
        let task = loop.withLock { $0 }
        task?.cancel()
        await task?.value
        try? await group.shutdownGracefully()
    }

    public func send(_ text: String, to chat: String) async throws {
        guard let sender = state.withLock({ $0.sender }) else { throw PlatformError("not connected to \(configuration.host)") }
        privmsg(text, to: chat, sender)
    }

    public func health() async -> PlatformHealth { state.withLock { $0.health } }

    // MARK: Connection

    private func run(_ inbound: any InboundHandler) async {
        var backoff = configuration.reconnectMin
        while !Task.isCancelled && !state.withLock({ $0.stopping }) {
            let registered: Bool
            do {
                registered = try await session(inbound)
            } catch {
                registered = false
                let ready = state.withLock { state in
                    state.health = PlatformHealth(.down, "\(configuration.host):\(configuration.port): \(error)")
                    state.lastError = "\(error)"
                    return state.failures.add()
                }
                for waiter in ready { waiter.resume() }
            }
            state.withLock { $0.sender = nil }
            if state.withLock({ $0.stopping }) { break }
            if registered { backoff = configuration.reconnectMin }
            let wait = backoff
            state.withLock { $0.health = PlatformHealth(.connecting, "reconnecting in \(wait)") }
            do { try await Task.sleep(for: wait) } catch { break }
            backoff = min(backoff * 2, configuration.reconnectMax)
        }
        state.withLock { $0.health = PlatformHealth(.down, "stopped") }
    }

    /// One connection, until the server closes it. True when it got as far as registering.
    private func session(_ inbound: any InboundHandler) async throws -> Bool {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            // Replies are small writes: without this, Nagle and the server's delayed ACK hold
            // each one ~40 ms (the benchmark found it: 2.9k msg/s, flat).
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: configuration.host, port: configuration.port) { [tls, configuration] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // The certificate must name the host (an IP literal cannot be sent as SNI).
                        let isAddress = configuration.host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : configuration.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(IRCLineDecoder()))
                    return try NIOAsyncChannel<String, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        var registered = false
        let stopping = state.withLock { state in
            state.connection = channel.channel
            return state.stopping
        }
        if stopping { try? await channel.channel.close() }
        defer { state.withLock { $0.connection = nil } }
        try await channel.executeThenClose { lines, outbound in
            let sender = IRCSender(outbound, burst: configuration.floodBurst, perSecond: configuration.floodPerSecond)
            defer { sender.finish() }
            var nick = configuration.nick
            state.withLock {
                $0.sender = sender
                $0.nick = nick
            }
            sender.send("NICK \(nick)")
            sender.send("USER \(configuration.nick) 0 * :gatewayd")
            for try await line in lines {
                guard let message = IRCMessage(line: line) else { continue }
                switch message.command {
                case "PING":
                    sender.send(IRCMessage(command: "PONG", parameters: message.parameters.isEmpty ? [""] : message.parameters).line)
                case "001":
                    nick = message.parameters.first ?? nick
                    registered = true
                    let joined = configuration.channels.joined(separator: ",")
                    if !joined.isEmpty { sender.send("JOIN \(joined)") }
                    let ready = state.withLock {
                        $0.nick = nick
                        $0.health = PlatformHealth(.up, "\(configuration.host):\(configuration.port) as \(nick)" + (joined.isEmpty ? "" : " in \(joined)"))
                        return $0.registrations.add()
                    }
                    for waiter in ready { waiter.resume() }
                case "433", "432":  // nick in use / erroneous: try another
                    guard !registered else { continue }
                    nick += "_"
                    state.withLock { $0.nick = nick }
                    sender.send("NICK \(nick)")
                case "PRIVMSG":
                    guard var incoming = Self.inbound(message, nick: nick, prefix: configuration.commandPrefix) else { continue }
                    incoming.sessionPerUser = configuration.sessionsPerUser
                    let replies = IRCReplies(adapter: self, target: incoming.chat, sender: sender)
                    Task { await inbound.handle(incoming, replies: replies) }
                default:
                    continue
                }
            }
        }
        return registered
    }

    /// What a PRIVMSG means for the gateway; nil when it is not for us (a channel line not
    /// addressed to the bot, a CTCP, our own echo).
    static func inbound(_ message: IRCMessage, nick: String, prefix: String) -> InboundMessage? {
        guard message.parameters.count >= 2, let sender = message.senderNick, sender != nick else { return nil }
        let target = message.parameters[0]
        var text = message.parameters[1]
        if text.hasPrefix("\u{1}") { return nil }  // CTCP (ACTION, VERSION, ...)
        let isChannel = target.hasPrefix("#") || target.hasPrefix("&")
        guard isChannel else {
            return InboundMessage(platform: "irc", chat: sender, chatType: .dm, user: sender, text: text)
        }
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
        return InboundMessage(platform: "irc", chat: target, chatType: .group, user: sender, text: text)
    }

    /// `inbound(_:nick:prefix:)` from a raw line, for tests of the addressing rules.
    public static func inboundForTesting(_ line: String, nick: String, prefix: String) -> InboundMessage? {
        IRCMessage(line: line).flatMap { inbound($0, nick: nick, prefix: prefix) }
    }

    /// A reply: one PRIVMSG per line, long lines split at `maxMessageBytes`.
    func privmsg(_ text: String, to target: String, _ sender: IRCSender) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            for part in ReplySplitter.split(String(line), maxBytes: maxMessageBytes) where !part.isEmpty {
                sender.send(IRCMessage(command: "PRIVMSG", parameters: [target, part]).line)
            }
        }
    }
}

/// Replies to one message: to the channel it came from, or to the person for a DM (whose nick
/// is the message's chat).
struct IRCReplies: ReplySink {
    let adapter: IRCAdapter
    let target: String
    let sender: IRCSender

    func send(_ text: String) async { adapter.privmsg(text, to: target, sender) }
}

/// Writes lines in order under a token bucket (`burst` at once, then `perSecond`), so a long
/// reply does not get the bot kicked for flooding.
final class IRCSender: Sendable {
    private let lines: AsyncStream<String>.Continuation
    private let writer: Task<Void, Never>

    init(_ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, burst: Int, perSecond: Double) {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        lines = continuation
        writer = Task {
            var tokens = Double(burst)
            var last = ContinuousClock.now
            for await line in stream {
                let now = ContinuousClock.now
                let elapsed = now - last
                last = now
                tokens = min(Double(burst), tokens + perSecond * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
                if tokens < 1 {
                    let wait = (1 - tokens) / perSecond
                    try? await Task.sleep(for: .milliseconds(Int(wait * 1000) + 1))
                    tokens = 1
                    last = ContinuousClock.now
                }
                tokens -= 1
                do { try await outbound.write(ByteBuffer(string: line + "\r\n")) } catch { break }
            }
        }
    }

    func send(_ line: String) { lines.yield(line) }

    func finish() {
        lines.finish()
        writer.cancel()
    }
}

/// `platforms.irc` in the config.
public struct IRCConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var nick: String
    public var channels: [String]
    /// A channel line starting with this is a command (`!up` is `/up`); `nick: ...` and `/up` always are.
    public var commandPrefix: String
    /// A channel is one shared session unless this is set (then one per person in it).
    public var sessionsPerUser: Bool
    /// TLS to the server (certificate verified against the system roots, or `tlsCAFile`).
    public var tls = false
    public var tlsCAFile: String?
    public var floodBurst: Int
    public var floodPerSecond: Double
    public var reconnectMin: Duration
    public var reconnectMax: Duration

    public init(host: String, port: Int, nick: String, channels: [String], commandPrefix: String = "!",
                sessionsPerUser: Bool = false, floodBurst: Int = 10, floodPerSecond: Double = 5, reconnectMin: Duration = .seconds(1),
                reconnectMax: Duration = .seconds(60)) {
        self.host = host
        self.port = port
        self.nick = nick
        self.channels = channels
        self.commandPrefix = commandPrefix
        self.sessionsPerUser = sessionsPerUser
        self.floodBurst = floodBurst
        self.floodPerSecond = floodPerSecond
        self.reconnectMin = reconnectMin
        self.reconnectMax = reconnectMax
    }

    /// `server: "irc.example.net:6667"`, `nick`, `channels: ["#ops"]`, and optionally `prefix`,
    /// `sessions_per_user`, `tls`, `tls_ca_file`, `flood_burst`, `flood_per_second`, `reconnect_min`, `reconnect_max` (durations).
    public init(settings: [String: String]) throws(PlatformError) {
        guard let server = settings["server"], let colon = server.lastIndex(of: ":"),
              let port = Int(server[server.index(after: colon)...]), (1...65535).contains(port) else {
            throw PlatformError("platforms.irc.server: expected host:port such as \"irc.libera.chat:6667\"")
        }
        guard let nick = settings["nick"], !nick.isEmpty, !nick.contains(" ") else {
            throw PlatformError("platforms.irc.nick: required, without spaces")
        }
        let list = settings["channels"].map { $0.trimmingCharacters(in: "[]") } ?? ""
        let channels = list.split(separator: ",").map { String($0).trimmingCharacters(in: " \"'") }.filter { !$0.isEmpty }
        for channel in channels where !(channel.hasPrefix("#") || channel.hasPrefix("&")) {
            throw PlatformError("platforms.irc.channels: \(channel) is not a channel name (they start with #)")
        }
        func duration(_ key: String, _ fallback: Duration) throws(PlatformError) -> Duration {
            guard let text = settings[key] else { return fallback }
            guard let value = DurationValue.parse(text), value > .zero else { throw PlatformError("platforms.irc.\(key): expected a duration, got \(text)") }
            return value
        }
        self.init(
            host: String(server[..<colon]), port: port, nick: nick, channels: channels,
            commandPrefix: settings["prefix"] ?? "!",
            sessionsPerUser: try Self.flag(settings["sessions_per_user"], "sessions_per_user"),
            floodBurst: settings["flood_burst"].flatMap(Int.init) ?? 10,
            floodPerSecond: settings["flood_per_second"].flatMap(Double.init) ?? 5,
            reconnectMin: try duration("reconnect_min", .seconds(1)),
            reconnectMax: try duration("reconnect_max", .seconds(60)))
        tls = try Self.flag(settings["tls"], "tls")
        tlsCAFile = settings["tls_ca_file"]
        if tlsCAFile != nil && !tls { throw PlatformError("platforms.irc.tls_ca_file: set tls: true as well") }
    }
}

extension IRCConfiguration {
    static func flag(_ text: String?, _ key: String) throws(PlatformError) -> Bool {
        switch text {
        case nil, "false", "no", "off": return false
        case "true", "yes", "on": return true
        default: throw PlatformError("platforms.irc.\(key): expected true or false, got \(text ?? "")")
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        guard let first = firstIndex(where: { !characters.contains($0) }),
              let last = lastIndex(where: { !characters.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}
