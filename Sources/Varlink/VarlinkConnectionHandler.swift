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
    private var context: ChannelHandlerContext?
    private var waiter: CheckedContinuation<ByteBuffer?, Never>?
    private var readWithheld = false
    private var closed = false
    private var timer: (kind: Timer, task: Scheduled<Void>)?
    /// The `more` call in progress, cancelled when the connection closes.
    private var stream: Task<Void, Never>?
    /// Why the connection was closed by this side, for the log.
    private(set) var closeReason: String?

    init(configuration: VarlinkServer.Configuration) {
        framer = VarlinkFramer(maxMessageSize: configuration.maxMessageSize)
        maxPendingInput = configuration.maxPendingInput
        idleTimeout = configuration.idleTimeout
        stallTimeout = configuration.stallTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
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
        timer?.task.cancel()
        timer = nil
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
        timer?.task.cancel()
        timer = nil
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

    /// Arms the idle or stall timer while the task waits for a call; none while a call runs.
    private func updateTimer(waiting: Bool? = nil) {
        let waiting = waiting ?? (self.waiter != nil)
        let wanted: Timer? = closed || !waiting ? nil : (framer.bufferedBytes == 0 ? .idle : .stall)
        guard wanted != timer?.kind else { return }
        timer?.task.cancel()
        timer = nil
        guard let wanted, let context else { return }
        let channel = context.channel
        let delay = wanted == .idle ? idleTimeout : stallTimeout
        let reason = wanted == .idle ? "idle for \(delay.nanoseconds / 1_000_000) ms with no call"
                                     : "stalled mid-message for \(delay.nanoseconds / 1_000_000) ms"
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(in: delay) {
            if handler.value.closeReason == nil { handler.value.closeReason = reason }
            channel.close(promise: nil)
        }
        timer = (wanted, task)
    }
}
