import NIOCore

/// One connection's inbound side, on its event loop: framing, back-pressure, and the timers that
/// drop peers who hold a slot without using it. The connection's task takes calls one at a time
/// with `nextMessage()`.
///
/// Back-pressure: while complete calls wait untaken and the buffer holds `maxPendingInput` bytes
/// or more, the handler withholds `read()` (autoRead's request for more): the peer's further
/// writes stay in the kernel's socket buffers and then block the peer, never the daemon's memory.
///
/// Timers run only while the task waits for a call (a call or a `more` stream in progress is
/// not idleness): with nothing buffered, the peer must start a call within `idleTimeout`; with
/// part of one buffered, finish it within `stallTimeout` of its first byte.
final class VarlinkConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Timer { case idle, stall }

    private var framer: VarlinkFramer
    private let maxPendingInput: Int
    private let idleTimeout: TimeAmount
    private let stallTimeout: TimeAmount
    /// Held from `handlerAdded` to `handlerRemoved` only: the context holds this handler, so
    /// keeping it past removal is a reference cycle that leaked every closed connection's
    /// handler, context, pipeline and receive buffer (about 2.5 kB each).
    private var context: ChannelHandlerContext?
    private var waiter: CheckedContinuation<ByteBuffer?, Never>?
    private var readWithheld = false
    private var closed = false
    /// The timer in force: which, and when it expires (nil while a call runs).
    private var deadline: (kind: Timer, at: NIODeadline)?
    /// The one scheduled check, and when it runs. It is not cancelled and re-armed on every
    /// call (that cost a heap insertion and removal per round trip): when it runs, it closes the
    /// connection if the deadline in force has passed, or schedules itself for that deadline.
    private var check: (task: Scheduled<Void>, at: NIODeadline)?
    /// The `more` call in progress, cancelled when the connection closes.
    private var stream: Task<Void, Never>?
    /// Why the connection was closed by this side, for the log.
    private(set) var closeReason: String?
    /// Called when the handler is freed: the server counts the handlers alive, so that one kept
    /// past its connection (the memory a connecting-and-closing peer would pile up) shows.
    private let released: @Sendable () -> Void

    init(configuration: VarlinkServer.Configuration, released: @escaping @Sendable () -> Void) {
        framer = VarlinkFramer(maxMessageSize: configuration.maxMessageSize)
        maxPendingInput = configuration.maxPendingInput
        idleTimeout = configuration.idleTimeout
        stallTimeout = configuration.stallTimeout
        self.released = released
    }

    deinit { released() }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The pipeline removes its handlers when the channel closes: the context is let go here.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        updateTimer()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        do {
            try framer.append(&bytes)
            if let waiter, let message = try framer.next() {
                self.waiter = nil
                waiter.resume(returning: message)
            }
        } catch {
            fail(error.description)
            return
        }
        updateTimer()
    }

    func read(context: ChannelHandlerContext) {
        if mustWithholdRead {
            readWithheld = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        deadline = nil
        check?.task.cancel()
        check = nil
        stream?.cancel()
        stream = nil
        waiter?.resume(returning: nil)
        waiter = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)")
    }

    // MARK: The connection's task

    /// The next call's bytes, once the previous call is done; nil once the connection closed.
    func nextMessage() async -> ByteBuffer? {
        if closed { return nil }
        do {
            if let message = try framer.next() {
                resumeReadingIfAllowed()
                return message
            }
        } catch {
            fail(error.description)
            return nil
        }
        resumeReadingIfAllowed()
        updateTimer(waiting: true)
        let message = await withCheckedContinuation { waiter = $0 }
        deadline = nil
        return message
    }

    /// Registers the `more` call in progress (nil when it ended); a closed connection cancels it.
    func setStream(_ task: Task<Void, Never>?) {
        if closed { task?.cancel() }
        stream = closed ? nil : task
    }

    /// Closes the connection, remembering why.
    func fail(_ reason: String) {
        if closeReason == nil { closeReason = reason }
        context?.close(promise: nil)
    }

    // MARK: Back-pressure and timers

    private var mustWithholdRead: Bool {
        framer.bufferedBytes >= maxPendingInput && ((try? framer.hasMessage()) ?? false)
    }

    private func resumeReadingIfAllowed() {
        guard readWithheld, !mustWithholdRead, let context else { return }
        readWithheld = false
        context.read()
    }

    /// Sets the idle or stall deadline while the task waits for a call; none while a call runs.
    private func updateTimer(waiting: Bool? = nil) {
        let waiting = waiting ?? (self.waiter != nil)
        let wanted: Timer? = closed || !waiting ? nil : (framer.bufferedBytes == 0 ? .idle : .stall)
        guard let wanted else {
            deadline = nil
            return
        }
        guard wanted != deadline?.kind else { return }
        let at = NIODeadline.now() + (wanted == .idle ? idleTimeout : stallTimeout)
        deadline = (wanted, at)
        if let check, check.at <= at { return }
        schedule(at: at)
    }

    private func schedule(at: NIODeadline) {
        guard let context else { return }
        check?.task.cancel()
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        check = (context.eventLoop.scheduleTask(deadline: at) { handler.value.deadlineCheck() }, at)
    }

    private func deadlineCheck() {
        check = nil
        guard let deadline, !closed else { return }
        guard deadline.at <= .now() else {
            schedule(at: deadline.at)
            return
        }
        let milliseconds = (deadline.kind == .idle ? idleTimeout : stallTimeout).nanoseconds / 1_000_000
        fail(deadline.kind == .idle ? "idle for \(milliseconds) ms with no call" : "stalled mid-message for \(milliseconds) ms")
    }
}
