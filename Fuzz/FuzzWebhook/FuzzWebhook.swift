// libFuzzer target: the webhook's HTTP handling fed as bytes through the pipeline the adapter
// installs on each connection (its guard, NIO's HTTP/1.1 server pipeline with error handling,
// WebhookHTTPHandler), on a testing channel, with an inbound handler that answers at once. See
// FuzzJSON for the two builds.
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import FuzzReplay
import GatewayCore
import JSON
import NIOCore
import NIOEmbedded
import Platforms

let secret = Array("fuzz-secret".utf8)

/// The input's first byte picks how the rest is cut into reads and, with its top bit, whether
/// the rest is raw bytes or the body of a delivery the harness signs (so that the fuzzer gets
/// past the signature to the JSON and the dispatch): twice, keep-alive, then the rest of the
/// input's bytes raw. What must hold: nothing traps, and what the connection writes is a
/// sequence of well-formed HTTP/1.1 responses, nothing after one that says `connection: close`.
func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let seed = input.first else { return }
    let rest = Array(input.dropFirst())
    let stream = seed & 0x80 == 0 ? rest : signedRequests(rest, chunked: seed & 0x40 != 0)
    let written = Box()
    let done = DispatchSemaphore(value: 0)
    Task {
        written.bytes = await exchange(FuzzReplay.pieces(stream, seed: seed))
        done.signal()
    }
    done.wait()
    if getenv("FUZZ_SHOW") != nil { print(String(decoding: written.bytes, as: UTF8.self)) }
    if let problem = HTTPResponses.problem(written.bytes) {
        fatalError("\(problem) in what was written: \(String(decoding: written.bytes, as: UTF8.self).debugDescription)")
    }
}

final class Box: @unchecked Sendable {
    var bytes: [UInt8] = []
}

/// Two signed deliveries of `body`, then what follows its first 0xff byte, raw.
func signedRequests(_ input: [UInt8], chunked: Bool) -> [UInt8] {
    let cut = input.firstIndex(of: 0xff) ?? input.endIndex
    let body = Array(input[..<cut]), tail = input[cut...].dropFirst()
    let signature = "sha256=" + HMACSHA256.hex(HMACSHA256.authenticationCode(for: body, key: secret))
    var request = Array("POST /webhook HTTP/1.1\r\nHost: fuzz\r\n\(WebhookConfiguration.signatureHeader): \(signature)\r\n".utf8)
    if chunked {
        request += Array("Transfer-Encoding: chunked\r\n\r\n\(String(body.count, radix: 16))\r\n".utf8) + body + Array("\r\n0\r\n\r\n".utf8)
    } else {
        request += Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body
    }
    return request + request + tail
}

/// Feeds `reads` to a fresh connection, lets the deliveries be answered and the deadlines pass,
/// and returns every byte the connection wrote.
func exchange(_ reads: [ArraySlice<UInt8>]) async -> [UInt8] {
    let channel = NIOAsyncTestingChannel()
    let wire = Wire()
    let adapter = WebhookAdapter(configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, secret: secret),
                                 eventLoops: channel.testingEventLoop)
    do {
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(wire)
            try adapter.installConnectionHandlers(on: channel.pipeline.syncOperations, inbound: Echo())
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).get()
    } catch {
        fatalError("cannot set the connection up: \(error)")
    }
    for read in reads {
        guard channel.isActive else { break }
        do { try await channel.writeInbound(ByteBuffer(bytes: read)) } catch { break }
        await settle(channel, adapter)
    }
    await settle(channel, adapter)
    // Every deadline (head, body, idle) passes: the guard closes the connection.
    await channel.testingEventLoop.advanceTime(by: .seconds(120))
    await settle(channel, adapter)
    _ = try? await channel.finish(acceptAlreadyClosed: true)
    return wire.written
}

/// Where the socket would be (first in the pipeline): records the bytes written, and fails a
/// write after the close as a socket does (the testing channel would still take it: a parse
/// error found in the rest of a request while the channel closes is answered after the close).
final class Wire: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData
    var written: [UInt8] = []
    private var closed = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard case .byteBuffer(let buffer) = unwrapOutboundIn(data) else { fatalError("a file region written") }
        written += buffer.readableBytesView
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all || mode == .output { closed = true }
        context.close(mode: mode, promise: promise)
    }
}

/// Waits until no delivery is being answered (the echo answers at once; its answer hops back
/// onto the loop), running the loop's queued work.
func settle(_ channel: NIOAsyncTestingChannel, _ adapter: WebhookAdapter) async {
    for _ in 0..<10_000 {
        await channel.testingEventLoop.run()
        if adapter.deliveriesUnderWay == 0 { break }
        await Task.yield()
    }
    await channel.testingEventLoop.run()
    guard adapter.deliveriesUnderWay == 0 else { fatalError("a delivery was never answered") }
}

/// Replies to each message at once with its text.
struct Echo: InboundHandler {
    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        await replies.send("echo: " + message.text)
    }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzWebhook_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
