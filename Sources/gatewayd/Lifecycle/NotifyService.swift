import Dispatch
import Logging
import ServiceLifecycle
import Systemd

/// What the daemon tells systemd, in order: queued by anyone (`send`), sent by `NotifyService`.
struct NotifyQueue: Sendable {
    typealias Notification = @Sendable (Notifier) throws -> Void
    let notifier: Notifier
    let logger: Logger
    fileprivate let pending: AsyncStream<Notification>
    private let continuation: AsyncStream<Notification>.Continuation

    init(notifier: Notifier, logger: Logger) {
        self.notifier = notifier
        self.logger = logger
        (pending, continuation) = AsyncStream<Notification>.makeStream()
    }

    /// Queues a notification; a failure to send it is logged, never fatal.
    func send(_ body: @escaping Notification) {
        continuation.yield(body)
    }

    /// No more notifications: `NotifyService` sends what is queued and ends.
    func finish() { continuation.finish() }
}

/// The sd_notify loop and the STATUS= line: sends the queued notifications in order and
/// turns each burst of counter changes into one STATUS= line. It is started first after the
/// signals and so shut down after every service that has something to say: STOPPING=1 and the
/// last lines are out before the process exits.
///
/// sd_notify blocks while the manager's queue is full, so each call runs on a serial queue of
/// its own, off the cooperative pool: neither the daemon nor the control socket ever stalls on it.
struct NotifyService: Service {
    let queue: NotifyQueue
    let status: StatusTracker
    private let sender = DispatchQueue(label: "gatewayd.notify")

    init(queue: NotifyQueue, status: StatusTracker) {
        self.queue = queue
        self.status = status
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await status.coalesce() }
                for await notification in queue.pending { await send(notification) }
            }
        } onGracefulShutdown: { [queue, status] in
            status.finish()
            queue.finish()
        }
    }

    private func send(_ notification: @escaping NotifyQueue.Notification) async {
        let notifier = queue.notifier, logger = queue.logger
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            sender.async {
                do { try notification(notifier) } catch { logger.error("sd_notify: \(error)", metadata: ["event": "notify_failed"]) }
                done.resume()
            }
        }
    }
}
