// libFuzzer target: the IRC adapter's state machine fed what a server sends. The adapter runs as
// in the daemon (its session, registration, PING, the lines after the welcome, the outbox and
// its writer, replies to what it takes), on a testing channel with its real pipeline (the line
// decoder) instead of a TCP connection; the input's bytes come in as the server's, cut into
// reads, followed by a PING of the harness's own. See FuzzJSON for the two builds.
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import FuzzReplay
import GatewayCore
import Logging
import NIOCore
import NIOEmbedded
import Platforms
import NIOConcurrencyHelpers

let nick = "gatewayd"
let channels = ["#gateway", "&ops"]
let sentinel = "fuzz-sentinel-4f2a"
let quiet = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

/// The input's first byte picks how the rest is cut into reads and, with its top bit, whether
/// the bot logs in with SASL. What must hold: nothing traps; the adapter keeps answering (the
/// harness's PING after the input is answered, unless the connection ended for a reason the
/// adapter gave); every line it writes is one IRC line of at most 512 bytes with CRLF and no
/// CR, LF or NUL inside; each PING it read is answered, in order, with a PONG that carries the
/// PING's last parameter (cleaned); a PRIVMSG goes only to a channel name or a nick (no space,
/// no comma); JOIN only to the configured channels; NICK only the configured nick or it with
/// `_`s; and what it keeps per nick, WHOIS and target stays within the caps.
func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let seed = input.first else { return }
    let stream = Array(input.dropFirst()) + Array("\r\nPING :\(sentinel)\r\n".utf8)
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        await exchange(FuzzReplay.pieces(stream, seed: seed), sasl: seed & 0x80 != 0, outcome)
        done.signal()
    }
    done.wait()
    if getenv("FUZZ_SHOW") != nil { for line in outcome.written { print(String(decoding: line, as: UTF8.self).debugDescription) } }
    checkWritten(outcome, expectedPings: pings(in: stream))
}

final class Outcome: @unchecked Sendable {
    var written: [[UInt8]] = []
    var answered = false
    var quit = false
    var connectionError: String?
    var retained: IRCAdapter.Retained?
}

/// Answers every message at once with its text (in the channel, or to the sender).
struct Echo: InboundHandler {
    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await replies.send("echo: " + message.text)
    }
}

/// Hands out one connection: the testing channel.
final class OneConnection: @unchecked Sendable {
    private let channel: NIOAsyncTestingChannel
    private let used = NIOLockedValueBox(false)

    init(_ channel: NIOAsyncTestingChannel) { self.channel = channel }

    func connect() async throws -> NIOAsyncChannel<String, ByteBuffer> {
        guard !used.withLockedValue({ used in defer { used = true }; return used }) else { throw PlatformError("one connection only") }
        let channel = self.channel
        let wrapped = try await channel.testingEventLoop.executeInContext {
            try IRCAdapter.pipeline(on: channel, tls: nil, host: "fuzz.example")
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6667)).get()
        return wrapped
    }
}

func exchange(_ reads: [ArraySlice<UInt8>], sasl: Bool, _ outcome: Outcome) async {
    let channel = NIOAsyncTestingChannel()
    let connection = OneConnection(channel)
    var settings = IRCConfiguration(host: "fuzz.example", port: 6667, nick: nick, channels: channels, floodBurst: 1000,
                                    floodPerSecond: 1000, reconnectMin: .seconds(3600), reconnectMax: .seconds(3600),
                                    sasl: sasl ? .init(user: "gatewayd", password: Array("fuzz-password".utf8)) : nil)
    settings.nickRegainInterval = .seconds(3600)
    let adapter: IRCAdapter
    do {
        adapter = try IRCAdapter(configuration: settings, logger: quiet, eventLoops: channel.testingEventLoop,
                                 connector: { try await connection.connect() })
        try await adapter.start(inbound: Echo())
    } catch {
        fatalError("cannot start the adapter: \(error)")
    }
    // The adapter connects and writes its opening (CAP LS, NICK, USER) first.
    await collect(channel, outcome, until: { $0.written.count >= 3 }, whileOpen: false)
    for read in reads {
        guard channel.isActive else { break }
        do { try await channel.writeInbound(ByteBuffer(bytes: read)) } catch { break }
        await drain(channel, outcome)
    }
    await collect(channel, outcome, until: { $0.answered })
    if !outcome.answered {
        // The connection ended: the adapter notes why just after.
        await collect(channel, outcome, until: { _ in adapter.lastConnectionError != nil }, whileOpen: false)
    }
    outcome.connectionError = adapter.lastConnectionError
    outcome.retained = adapter.retained
    // Stopped as the daemon stops it: QUIT, which the server answers by closing.
    let stopping = Task { await adapter.stop(flushingWithin: .zero) }
    await collect(channel, outcome, until: { $0.quit })
    _ = try? await channel.close()
    await stopping.value
    await drain(channel, outcome)
    _ = try? await channel.finish(acceptAlreadyClosed: true)
}

/// Takes what was written so far.
func drain(_ channel: NIOAsyncTestingChannel, _ outcome: Outcome) async {
    while let buffer = try? await channel.readOutbound(as: ByteBuffer.self) {
        let bytes = Array(buffer.readableBytesView)
        if bytes == Array("PONG :\(sentinel)\r\n".utf8) { outcome.answered = true }
        if bytes.starts(with: Array("QUIT ".utf8)) { outcome.quit = true }
        outcome.written.append(bytes)
    }
}

/// Takes what is written until `done` holds or (`whileOpen`) the connection closed; a stuck
/// adapter traps after 30 s.
func collect(_ channel: NIOAsyncTestingChannel, _ outcome: Outcome, until done: (Outcome) -> Bool, whileOpen: Bool = true) async {
    let deadline = ContinuousClock.now + .seconds(30)
    var rounds = 0
    while true {
        await drain(channel, outcome)
        if done(outcome) || (whileOpen && !channel.isActive) { return }
        guard ContinuousClock.now < deadline else {
            fatalError("the adapter stopped answering: \(outcome.written.map { String(decoding: $0, as: UTF8.self) })")
        }
        rounds += 1
        if rounds < 200 { await Task.yield() } else { try? await Task.sleep(for: .milliseconds(1)) }
    }
}

/// The PINGs in the stream, as the adapter's decoder cuts it (until a line too long).
func pings(in stream: [UInt8]) -> [IRCMessage] {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(IRCLineDecoder()))
    defer { _ = try? channel.finish() }
    var lines: [String] = []
    // A line too long throws, after the lines before it.
    _ = try? channel.writeInbound(ByteBuffer(bytes: stream))
    while let line = try? channel.readInbound(as: String.self) { lines.append(line) }
    return lines.compactMap { IRCMessage(line: $0) }.filter { $0.command == "PING" }
}

func checkWritten(_ outcome: Outcome, expectedPings: [IRCMessage]) {
    var pongs: [IRCMessage] = []
    for bytes in outcome.written {
        guard bytes.count <= IRCMessage.maxLineBytes, bytes.suffix(2) == [13, 10] else {
            fatalError("a line too long or without CRLF: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
        let body = bytes.dropLast(2)
        guard !body.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else { fatalError("CR, LF or NUL inside a line: \(bytes)") }
        guard let message = IRCMessage(line: String(decoding: body, as: UTF8.self)) else { fatalError("a line that does not parse: \(bytes)") }
        let p = message.parameters
        switch message.command {
        case "PONG": pongs.append(message)
        case "PRIVMSG":
            guard p.count == 2, IRCText.isChannel(p[0]) || IRCText.isNick(p[0]), !p[0].contains(" "), !p[0].contains(",") else {
                fatalError("a PRIVMSG to \(p.first.debugDescription)")
            }
        case "JOIN":
            guard p.count == 1, p[0].split(separator: ",").allSatisfy({ channels.contains(String($0)) }) else { fatalError("JOIN \(p)") }
        case "NICK":
            guard p.count == 1, p[0].hasPrefix(nick), p[0].dropFirst(nick.count).allSatisfy({ $0 == "_" }) else { fatalError("NICK \(p)") }
        case "CAP", "USER", "AUTHENTICATE", "WHOIS", "QUIT", "PART":
            break
        default:
            fatalError("an unexpected line: \(message)")
        }
    }
    // Each PING read is answered in order, with its last parameter (cleaned), up to where the
    // connection ended; all of them when the harness's own was answered.
    guard pongs.count <= expectedPings.count else { fatalError("more PONGs than PINGs") }
    for (pong, ping) in zip(pongs, expectedPings) {
        let token = String(decoding: IRCText.clean(ping.parameters.last ?? "", maxBytes: .max), as: UTF8.self)
        guard let last = pong.parameters.last, token.utf8.starts(with: last.utf8), !last.isEmpty || token.isEmpty else {
            fatalError("PING \(ping.parameters) answered with PONG \(pong.parameters)")
        }
    }
    if outcome.answered {
        guard pongs.count == expectedPings.count else { fatalError("\(expectedPings.count) PINGs, \(pongs.count) PONGs") }
    } else if outcome.connectionError == nil {
        fatalError("the harness's PING was not answered, and the connection did not fail")
    }
    if let retained = outcome.retained {
        let limits = GatewayConstants.IRC.self
        guard retained.departures <= limits.departuresRemembered, retained.pendingWhois <= limits.maxPendingWhois,
              retained.queuedInLane <= limits.queuedLinesTotal, retained.queuedForOneTarget <= limits.queuedLinesPerTarget,
              retained.inFlight <= limits.maxInboundInFlight, retained.joinedChannels <= limits.maxOtherChannelsJoined + channels.count
        else { fatalError("past a cap: \(retained)") }
    }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzIRCState_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
