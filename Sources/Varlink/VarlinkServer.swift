import CGatewayShims
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A varlink server on a Unix stream socket. Each connection's calls are answered in order
/// (pipelining works); bad input (malformed JSON, an oversized message, a client that stalls
/// mid-message) closes that connection and nothing else.
public final class VarlinkServer: Sendable {
    public struct Configuration: Sendable {
        /// A message longer than this closes the connection.
        public var maxMessageSize = 1 << 20
        /// Connections past this are closed at once.
        public var maxConnections = 256
        /// A client that sent part of a message and then nothing for this long is dropped.
        public var stallTimeout: TimeAmount = .seconds(5)

        public init() {}
    }

    public let info: VarlinkServiceInfo
    public let configuration: Configuration
    private let interfaces: [String: any VarlinkInterface]
    private let group: MultiThreadedEventLoopGroup
    private let channel = Mutex<(any Channel)?>(nil)
    private let connections = Atomic<Int>(0)
    /// Connection tasks run on the (single) event loop's thread.
    private let executor: EventLoopTaskExecutor

    public init(info: VarlinkServiceInfo, interfaces: [any VarlinkInterface], configuration: Configuration = Configuration()) {
        self.info = info
        self.configuration = configuration
        self.interfaces = Dictionary(interfaces.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        executor = EventLoopTaskExecutor(group.next())
    }

    /// Binds `path` (a stale socket file there is replaced), then sets its mode and group.
    public func bind(path: String, mode: UInt32 = 0o660, groupID: UInt32? = nil) async throws {
        let bound = try await bootstrap().bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        if chmod(path, mode_t(mode)) != 0 || (groupID.map { chown(path, uid_t.max, gid_t($0)) != 0 } ?? false) {
            let error = errno
            try? await bound.close()
            throw VarlinkProtocolError("cannot set mode/group of \(path): \(String(cString: strerror(error)))")
        }
        channel.withLock { $0 = bound }
    }

    /// Serves on a listening socket passed by systemd (socket activation).
    public func adopt(listeningDescriptor fd: Int32) async throws {
        let bound = try await bootstrap().withBoundSocket(fd).get()
        channel.withLock { $0 = bound }
    }

    /// Stops accepting, lets calls being answered finish (up to `grace`: a `Restart` caller gets
    /// its reply before the daemon exits), then closes every connection. Streams (`more` calls)
    /// are not waited for; they end with their connection.
    public func shutdown(grace: Duration = .seconds(2)) async {
        let bound = channel.withLock { $0 }
        try? await bound?.close()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.callsFinished() }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
        let waiters = inFlight.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        try? await group.shutdownGracefully()
    }

    private struct InFlight {
        var calls = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let inFlight = Mutex(InFlight())

    private func callsFinished() async {
        await withCheckedContinuation { continuation in
            let done = inFlight.withLock { state in
                if state.calls == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func callStarted() { inFlight.withLock { $0.calls += 1 } }

    private func callEnded() {
        let waiters = inFlight.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.calls -= 1
            guard state.calls == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    public var connectionCount: Int { connections.load(ordering: .relaxed) }

    private func bootstrap() -> ServerBootstrap {
        let configuration = self.configuration
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                let open = connections.wrappingAdd(1, ordering: .relaxed).newValue
                channel.closeFuture.whenComplete { [self] _ in
                    connections.subtract(1, ordering: .relaxed)
                }
                guard open <= configuration.maxConnections else {
                    return channel.close()
                }
                return peerCredentials(of: channel).flatMap { peer in
                    let (calls, continuation) = AsyncStream<ConnectionInput>.makeStream()
                    do {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(
                            NULFrameDecoder(maxSize: configuration.maxMessageSize, stallTimeout: configuration.stallTimeout)))
                        try channel.pipeline.syncOperations.addHandler(CallForwarder(continuation: continuation))
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    Task(executorPreference: self.executor) { await self.serve(channel: channel, peer: peer, calls: calls) }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: false)
    }

    private func peerCredentials(of channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(PeerCredentials(pid: -1, uid: .max, gid: .max))
        }
        let future: EventLoopFuture<gw_ucred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(gw_sol_socket()), name: SocketOptionName(gw_so_peercred()))
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
            .flatMapErrorThrowing { _ in PeerCredentials(pid: -1, uid: .max, gid: .max) }
    }

    /// Answers one connection's calls in order until it closes.
    private func serve(channel: any Channel, peer: PeerCredentials, calls: AsyncStream<ConnectionInput>) async {
        for await input in calls {
            switch input {
            case .frame(let bytes):
                let call: VarlinkCall
                do {
                    call = try VarlinkCoding.decodeCall(bytes.readableBytesView)
                } catch {
                    // Not varlink: there is no call to answer; end the conversation.
                    channel.close(promise: nil)
                    return
                }
                if !call.more { callStarted() }
                let open = await dispatch(call, peer: peer, channel: channel)
                if !call.more { callEnded() }
                if !open { return }
            }
        }
    }

    /// Routes one call. Returns false once the connection is gone.
    private func dispatch(_ call: VarlinkCall, peer: PeerCredentials, channel: any Channel) async -> Bool {
        let alive = Atomic<Bool>(true)
        let replies = VarlinkReplies { reply in
            if call.oneway { return true }
            var reply = reply
            if !call.more { reply.continues = false }
            var bytes = VarlinkCoding.encodeReply(reply)
            bytes.append(0)
            let buffer = channel.allocator.buffer(bytes: bytes)
            // Replies of a stream are awaited (back-pressure, and a gone client ends it); a
            // single reply is not: the next call's reply queues behind it in order anyway.
            guard reply.continues else {
                channel.writeAndFlush(buffer, promise: nil)
                return channel.isActive
            }
            do {
                try await channel.writeAndFlush(buffer)
                return true
            } catch {
                alive.store(false, ordering: .relaxed)
                return false
            }
        }
        if call.interface == ServiceInterface.name {
            await serviceCall(call, replies)
        } else if let interface = interfaces[call.interface] {
            await interface.handle(call, peer: peer, replies: replies)
        } else {
            await replies.send(.error(VarlinkError.interfaceNotFound, ["interface": .string(call.interface)]))
        }
        return alive.load(ordering: .relaxed) && channel.isActive
    }

    private func serviceCall(_ call: VarlinkCall, _ replies: VarlinkReplies) async {
        switch call.memberName {
        case "GetInfo":
            let names = [ServiceInterface.name] + interfaces.keys.sorted()
            await replies.send(VarlinkReply(parameters: [
                "vendor": .string(info.vendor), "product": .string(info.product),
                "version": .string(info.version), "url": .string(info.url),
                "interfaces": .array(names.map { .string($0) }),
            ]))
        case "GetInterfaceDescription":
            guard let name = call.parameters["interface"]?.string else {
                await replies.send(.error(VarlinkError.invalidParameter, ["parameter": "interface"]))
                return
            }
            let text = name == ServiceInterface.name ? ServiceInterface.definition : interfaces[name]?.definition
            if let text {
                await replies.send(VarlinkReply(parameters: ["description": .string(text)]))
            } else {
                await replies.send(.error(VarlinkError.interfaceNotFound, ["interface": .string(name)]))
            }
        default:
            await replies.send(.error(VarlinkError.methodNotFound, ["method": .string(call.method)]))
        }
    }
}

enum ConnectionInput: Sendable {
    case frame(ByteBuffer)
}

/// Splits the byte stream at NUL bytes. Over `maxSize` without a NUL, or a partial message left
/// unfinished for `stallTimeout`, closes the connection.
struct NULFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxSize: Int
    let stallTimeout: TimeAmount
    var stallTimer: Scheduled<Void>?

    init(maxSize: Int, stallTimeout: TimeAmount) {
        self.maxSize = maxSize
        self.stallTimeout = stallTimeout
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let end = buffer.readableBytesView.firstIndex(of: 0) {
            let length = end - buffer.readerIndex
            guard length <= maxSize else { throw VarlinkProtocolError("message over \(maxSize) bytes") }
            let frame = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            stallTimer?.cancel()
            stallTimer = nil
            context.fireChannelRead(wrapInboundOut(frame))
            return .continue
        }
        guard buffer.readableBytes <= maxSize else { throw VarlinkProtocolError("message over \(maxSize) bytes") }
        if buffer.readableBytes > 0 && stallTimer == nil {
            let channel = context.channel
            stallTimer = context.eventLoop.scheduleTask(in: stallTimeout) { channel.close(promise: nil) }
        }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        stallTimer?.cancel()
        stallTimer = nil
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.clear()
        return .needMoreData
    }
}

/// Hands decoded frames to the connection's task; closes on any pipeline error.
final class CallForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<ConnectionInput>.Continuation

    init(continuation: AsyncStream<ConnectionInput>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(.frame(unwrapInboundIn(data)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish()
        context.close(promise: nil)
    }
}
