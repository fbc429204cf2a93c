import CGatewayShims
import JSON
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
import VarlinkProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A varlink server on a Unix stream socket. Each connection's calls are answered in order
/// (pipelining works); bad input (malformed JSON, an oversized message, a client that stalls
/// mid-message) closes that connection and nothing else. Every connection is bounded both ways
/// (see `Configuration`): what a peer pipelines waits in the kernel once `maxPendingInput` is
/// buffered, and a peer that does not read its replies is dropped past `maxUnwrittenOutput`.
package final class VarlinkServer: Sendable {
    package let info: VarlinkServiceInfo
    package let configuration: Configuration
    let logger: Logger
    private let interfaces: [String: any VarlinkInterface]
    /// One loop of the group it was given: the listener, every connection and their tasks
    /// share its thread (a reply is written without a hop).
    private let eventLoop: any EventLoop
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    /// The socket file this server bound itself (nil for an adopted one).
    private let socketPath = NIOLockedValueBox<String?>(nil)
    private let admission: NIOLockedValueBox<ConnectionAdmission>
    private let connectionLog = RateLimitedLog()
    /// Connection tasks run on the (single) event loop's thread.
    private let executor: EventLoopTaskExecutor
    private let activity = NIOLockedValueBox(Activity())
    /// The connections open now: the event loops are shared, so `shutdown` closes them itself.
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    /// Connections accepted, each served by a child task of `serving`, which `shutdown`
    /// cancels once its grace is over (a call that ignores the cancellation is not waited for).
    private let accepted: AsyncStream<Accepted>
    private let acceptedContinuation: AsyncStream<Accepted>.Continuation
    /// The one task that serves, started with the socket, ended and awaited by `shutdown`.
    private let serving = NIOLockedValueBox<Task<Void, Never>?>(nil)

    private struct Accepted: Sendable {
        let channel: any Channel
        let peer: PeerCredentials
        let connection: NIOLoopBound<VarlinkConnectionHandler>
    }

    /// `eventLoops`: the daemon's one group (NIO's shared one unless given); the server does not
    /// shut it down.
    package init(info: VarlinkServiceInfo, interfaces: [any VarlinkInterface], configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "varlink", factory: { _ in SwiftLogNoOpLogHandler() }),
                eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.info = info
        self.configuration = configuration
        self.logger = logger
        self.interfaces = Dictionary(interfaces.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        admission = NIOLockedValueBox(ConnectionAdmission(configuration))
        eventLoop = eventLoops.next()
        executor = EventLoopTaskExecutor(eventLoop)
        (accepted, acceptedContinuation) = AsyncStream<Accepted>.makeStream()
    }

    /// Serves on a listening socket passed by systemd (socket activation).
    package func adopt(listeningDescriptor fd: Int32) async throws {
        let bound = try await bootstrap().withBoundSocket(fd).get()
        channel.withLockedValue { $0 = bound }
        startServing()
    }

    func startServing() {
        serving.withLockedValue { task in
            guard task == nil else { return }
            task = Task(executorPreference: executor) { await self.serveConnections() }
        }
    }

    /// Each connection in a child task on the event loop's thread, until `shutdown`.
    private func serveConnections() async {
        await withDiscardingTaskGroup { group in
            for await connection in accepted {
                group.addTask(executorPreference: executor) {
                    await self.serve(channel: connection.channel, peer: connection.peer, connection: connection.connection)
                    // Wound down once the channel is closed for good (its slot given back).
                    try? await connection.channel.closeFuture.get()
                    self.changeActivity { $0.connectionTasks -= 1 }
                }
            }
        }
    }

    /// Stops accepting, lets calls being answered finish (up to `grace`: a `Restart` caller gets
    /// its reply before the daemon exits), then closes every connection. Streams (`more` calls)
    /// are not waited for; they end with their connection. A plain call still running then is
    /// cancelled (a quick command's processes are killed) and waited for `Configuration
    /// .cancelledCallWait` at most: a call never holds the daemon's stop past systemd's timeout.
    package func shutdown(grace: Duration = .seconds(2)) async {
        let bound = channel.withLockedValue { $0 }
        try? await bound?.close()
        activity.withLockedValue { $0.graceOver = false }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.callsFinished() }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
            // The group ends only once both have: `callsFinished` is let go here, not when the
            // calls finish (waiting for them past the grace is what the grace is there to stop).
            let waiters = activity.withLockedValue { state in
                defer { state.waiters = [] }
                state.graceOver = true
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        let open = connections.withLockedValue { Array($0.values) }
        for connection in open { try? await connection.close() }
        acceptedContinuation.finish()
        guard let serving = serving.withLockedValue({ $0 }) else { return }
        // Plain calls run in their connection's task: cancelling the tasks ends those that heed
        // it; one that does not is left to finish alone (its reply has nowhere to go). Without
        // such calls nothing is cancelled (the tasks wind down as their connections closed).
        if activity.withLockedValue({ $0.calls }) > 0 { serving.cancel() }
        await Self.wait(for: serving, atMost: configuration.cancelledCallWait)
    }

    /// Returns once `task` has ended or `limit` has passed, whichever is first (awaiting a
    /// task's value cannot be cut short by cancellation).
    private static func wait(for task: Task<Void, Never>, atMost limit: Duration) async {
        let (ended, end) = AsyncStream<Void>.makeStream()
        let watcher = Task {
            await task.value
            end.finish()
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            end.finish()
        }
        for await _ in ended {}
        timer.cancel()
        _ = watcher
    }

    /// Open connections.
    package var connectionCount: Int { admission.withLockedValue { $0.total } }

    /// `more` calls being answered now (each holds a task, and for `Subscribe` an observer).
    package var streamCount: Int { activity.withLockedValue { $0.streams } }

    /// Connection tasks alive now (one per open connection, until it has wound down).
    package var connectionTaskCount: Int { activity.withLockedValue { $0.connectionTasks } }

    /// Connection handlers not yet freed (one per open connection, until its pipeline and its
    /// task have let it go): a count that grows with closed connections is memory leaking.
    package var connectionHandlerCount: Int { activity.withLockedValue { $0.connectionHandlers } }

    /// Returns once no connection task, handler or stream is left (every connection closed has
    /// wound down and been freed): what a test awaits before counting what the closed
    /// connections left behind.
    package func quiesced() async {
        await withCheckedContinuation { continuation in
            let quiet = activity.withLockedValue { state in
                if state.isQuiet { return true }
                state.quietWaiters.append(continuation)
                return false
            }
            if quiet { continuation.resume() }
        }
    }

    func adopt(bound: any Channel, path: String) {
        channel.withLockedValue { $0 = bound }
        socketPath.withLockedValue { $0 = path }
        startServing()
    }

    /// The socket file this server bound itself; nil for a socket passed by systemd.
    package var boundPath: String? { socketPath.withLockedValue { $0 } }

    func bootstrap() -> ServerBootstrap {
        ServerBootstrap(group: eventLoop)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .childChannelInitializer { [self] channel in
                let peer = (try? channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) {
                    PeerCredentials.read(socket: $0)
                }) ?? nil ?? .unknown
                if let refusal = admission.withLockedValue({ $0.admit(uid: peer.uid) }) {
                    connectionLog.log(logger, "control connection refused (pid \(peer.pid), uid \(peer.uid)): \(refusal)",
                                      ["event": "connection_refused", "uid": "\(peer.uid)"])
                    return channel.close()
                }
                let id = ObjectIdentifier(channel)
                connections.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { [self] _ in
                    admission.withLockedValue { $0.release(uid: peer.uid) }
                    connections.withLockedValue { _ = $0.removeValue(forKey: id) }
                }
                activity.withLockedValue { $0.connectionHandlers += 1 }
                let handler = VarlinkConnectionHandler(configuration: configuration) { [weak self] in
                    self?.changeActivity { $0.connectionHandlers -= 1 }
                }
                do {
                    try channel.pipeline.syncOperations.addHandler(handler)
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                let connection = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                activity.withLockedValue { $0.connectionTasks += 1 }
                if case .terminated = acceptedContinuation.yield(Accepted(channel: channel, peer: peer, connection: connection)) {
                    // Shut down meanwhile: nobody will serve it.
                    changeActivity { $0.connectionTasks -= 1 }
                    return channel.close()
                }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .childChannelOption(.allowRemoteHalfClosure, value: false)
    }

    /// Answers one connection's calls in order until it closes.
    private func serve(channel: any Channel, peer: PeerCredentials, connection: NIOLoopBound<VarlinkConnectionHandler>) async {
        while let bytes = await connection.value.nextMessage() {
            let call: VarlinkCall
            do {
                call = try VarlinkCoding.decodeCall(bytes.readableBytesView)
            } catch {
                // Not varlink: there is no call to answer; end the conversation.
                connection.value.fail("not a varlink call: \(error)")
                break
            }
            if call.more {
                // A stream runs in a task of its own, which the connection cancels when it
                // closes: a `Subscribe` whose peer is gone ends even when no event comes.
                activity.withLockedValue { $0.streams += 1 }
                let stream = Task(executorPreference: executor) {
                    await self.dispatch(call, peer: peer, channel: channel, connection: connection)
                    self.changeActivity { $0.streams -= 1 }
                }
                connection.value.setStream(stream)
                await stream.value
                connection.value.setStream(nil)
            } else {
                callStarted()
                await dispatch(call, peer: peer, channel: channel, connection: connection)
                callEnded()
            }
        }
        if let reason = connection.value.closeReason {
            connectionLog.log(logger, "control connection (pid \(peer.pid), uid \(peer.uid)) closed: \(reason)",
                              ["event": "connection_closed", "uid": "\(peer.uid)"])
        }
    }

    /// Routes one call.
    private func dispatch(_ call: VarlinkCall, peer: PeerCredentials, channel: any Channel,
                          connection: NIOLoopBound<VarlinkConnectionHandler>) async {
        let replies = VarlinkReplies { [self] reply in
            if call.oneway { return channel.isActive }
            let reply = call.more ? reply : VarlinkReply(parameters: reply.parameters, error: reply.error, continues: false)
            if channel.eventLoop.inEventLoop {
                return write(reply, channel: channel, connection: connection)
            }
            let sent = try? await channel.eventLoop.submit { [self] in
                write(reply, channel: channel, connection: connection)
            }.get()
            return sent ?? false
        }
        if call.interface == ServiceInterface.name {
            await serviceCall(call, replies)
        } else if let interface = interfaces[call.interface] {
            await interface.handle(call, peer: peer, replies: replies)
        } else {
            await replies.send(.error(VarlinkError.interfaceNotFound, ["interface": .string(call.interface)]))
        }
    }

    /// Queues one reply (on the event loop). A peer that has left this many bytes of replies
    /// unread is not going to read them: its connection is closed rather than buffered for.
    private func write(_ reply: VarlinkReply, channel: any Channel, connection: NIOLoopBound<VarlinkConnectionHandler>) -> Bool {
        guard channel.isActive else { return false }
        let unwritten = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        guard unwritten <= configuration.maxUnwrittenOutput else {
            connection.value.fail("the peer left \(unwritten) bytes of replies unread (limit \(configuration.maxUnwrittenOutput))")
            return false
        }
        var bytes = VarlinkCoding.encodeReply(reply)
        bytes.append(0)
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
        return true
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

    // MARK: Calls in flight (for shutdown) and streams

    private struct Activity {
        var calls = 0
        var streams = 0
        var connectionTasks = 0
        var connectionHandlers = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// The shutdown's wait for calls is over (so a `callsFinished` that starts late returns).
        var graceOver = false
        var quietWaiters: [CheckedContinuation<Void, Never>] = []
        var isQuiet: Bool { streams == 0 && connectionTasks == 0 && connectionHandlers == 0 }
    }

    /// Applies `change`, then resumes whoever waits for what it brought about.
    private func changeActivity(_ change: (inout Activity) -> Void) {
        let waiters = activity.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            change(&state)
            var ready: [CheckedContinuation<Void, Never>] = []
            if state.calls == 0 { ready += state.waiters; state.waiters = [] }
            if state.isQuiet { ready += state.quietWaiters; state.quietWaiters = [] }
            return ready
        }
        for waiter in waiters { waiter.resume() }
    }

    private func callsFinished() async {
        await withCheckedContinuation { continuation in
            let done = activity.withLockedValue { state in
                if state.calls == 0 || state.graceOver { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func callStarted() { activity.withLockedValue { $0.calls += 1 } }

    private func callEnded() { changeActivity { $0.calls -= 1 } }
}
