import Dispatch
import Logging
import ServiceLifecycle
import NIOConcurrencyHelpers
import GatewayCore
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
/// Nor does this service: a call that has not returned after `stuckAfter` (a manager that does
/// not read its notify socket) is left behind, and while it stays blocked, new notifications are
/// dropped and counted instead of piling up behind it; so a stop still ends the process.
struct NotifyService: Service {
    let queue: NotifyQueue
    let status: StatusTracker
    private let sender = DispatchQueue(label: "gatewayd.notify")
    /// How long one sd_notify may take before the service moves on without it.
    static let stuckAfter: Duration = .seconds(1)
    private let stuck = NIOLockedValueBox(Stuck())

    /// The call in flight (by number), whether it was left behind, and what was dropped since:
    /// one lock, so that a call returning and its timer firing cannot leave `blocked` set with
    /// no call in flight to clear it (every later notification, the watchdog's too, would drop).
    private struct Stuck {
        var inFlight: UInt64?
        var next: UInt64 = 0
        var blocked = false
        var dropped = 0
    }

    /// A continuation resumed once, by whichever comes first.
    private final class Waiter: Sendable {
        private let continuation: NIOLockedValueBox<CheckedContinuation<Void, Never>?>
        init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = NIOLockedValueBox(continuation) }
        func take() -> CheckedContinuation<Void, Never>? { continuation.withLockedValue { $0.take() } }
    }

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
        let notifier = queue.notifier, logger = queue.logger, stuck = self.stuck
        let call = stuck.withLockedValue { state -> UInt64? in
            if state.blocked {
                state.dropped += 1
                return nil
            }
            defer { state.next += 1 }
            state.inFlight = state.next
            return state.next
        }
        guard let call else { return }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let waiter = Waiter(done)
            sender.async {
                do { try notification(notifier) } catch { logger.error("sd_notify: \(error)", metadata: ["event": "notify_failed"]) }
                let (late, dropped) = stuck.withLockedValue { state -> (Bool, Int) in
                    defer {
                        state.inFlight = nil
                        state.blocked = false
                        state.dropped = 0
                    }
                    return (state.blocked, state.dropped)
                }
                if late {
                    logger.notice("sd_notify returned again; \(dropped) notification(s) dropped meanwhile", metadata: ["event": "notify_resumed"])
                }
                waiter.take()?.resume()
            }
            let nanoseconds = Int(Self.stuckAfter / .nanoseconds(1))
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                // Only while this call is still in flight: once it returned, nothing is blocked.
                let blocked = stuck.withLockedValue { state -> Bool in
                    guard state.inFlight == call else { return false }
                    state.blocked = true
                    return true
                }
                guard blocked, let continuation = waiter.take() else { return }
                logger.error("sd_notify has not returned for \(DurationValue.describe(Self.stuckAfter)): the service manager is not reading its notify socket; notifications are dropped until it does",
                             metadata: ["event": "notify_stuck"])
                continuation.resume()
            }
        }
    }
}
