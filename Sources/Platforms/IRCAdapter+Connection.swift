import GatewayCore
import NIOCore
import NIOPosix
import NIOSSL

extension IRCAdapter {
    /// Opens one connection with `pipeline(on:tls:host:)` installed on it. The daemon's is TCP
    /// (`connect()`); the ircstate fuzz target's hands the adapter a testing channel, so that the
    /// server's lines go through the same decoder, session and outbox without a network.
    package typealias Connector = @Sendable () async throws -> NIOAsyncChannel<String, ByteBuffer>

    /// A TCP connection to `configuration.host`, with TLS when configured.
    func connect() async throws -> NIOAsyncChannel<String, ByteBuffer> {
        try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            // Replies are small writes: without this, Nagle and the server's delayed ACK hold
            // each one ~40 ms (the benchmark found it: 2.9k msg/s, flat).
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: configuration.host, port: configuration.port) { [tls, configuration] channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.pipeline(on: channel, tls: tls, host: configuration.host)
                }
            }
    }

    /// What every connection carries: TLS when configured (the certificate must name the host;
    /// an IP literal cannot be sent as SNI), then the line decoder; lines in, bytes out. On the
    /// channel's event loop.
    package static func pipeline(on channel: any Channel, tls: NIOSSLContext?, host: String) throws -> NIOAsyncChannel<String, ByteBuffer> {
        if let tls {
            let isAddress = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : host))
        }
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(IRCLineDecoder()))
        return try NIOAsyncChannel<String, ByteBuffer>(wrappingChannelSynchronously: channel)
    }

    /// The answer to a server's PING: PONG with its parameters; with its last (the token) alone
    /// when another cannot go on the wire (a control character, longer than a line): that PONG
    /// was not sent at all, and the server dropped the connection for a ping timeout (the
    /// ircstate fuzz target's finding).
    package static func pong(_ ping: IRCMessage) -> IRCMessage {
        let echo = IRCMessage(command: "PONG", parameters: ping.parameters.isEmpty ? [""] : ping.parameters)
        if ping.parameters.count < 2 || (try? echo.encoded()) != nil { return echo }
        return IRCMessage(command: "PONG", parameters: [ping.parameters.last ?? ""])
    }

    /// What the adapter keeps per nick, per WHOIS and per target, and the messages it is
    /// handling: each has a cap (`GatewayConstants.IRC`), which the ircstate fuzz target checks
    /// after every input.
    package struct Retained: Sendable {
        /// Nicks remembered as having changed hands (`departuresRemembered`).
        package let departures: Int
        /// WHOIS asked and not answered (`maxPendingWhois`).
        package let pendingWhois: Int
        /// Reply lines waiting in the fuller lane (`queuedLinesTotal`), and for the target with
        /// the most in either lane (`queuedLinesPerTarget`).
        package let queuedInLane: Int
        package let queuedForOneTarget: Int
        /// Channels the server says the bot is in.
        package let joinedChannels: Int
        /// Messages handed to the dispatcher and not done with (`maxInboundInFlight`).
        package let inFlight: Int
    }

    package var retained: Retained {
        let (departures, whois, lanes) = outbox.state.withLockedValue { ($0.departures.count, $0.whois.count, $0.lanes) }
        let (joined, inFlight) = state.withLockedValue { ($0.joined.count, $0.inFlight) }
        return Retained(departures: departures, pendingWhois: whois, queuedInLane: lanes.map(\.count).max() ?? 0,
                        queuedForOneTarget: lanes.map(\.longest).max() ?? 0, joinedChannels: joined, inFlight: inFlight)
    }
}
