import Synchronization

/// Tells an adapter when the dispatcher has taken a message: an agent-bound one once it is in
/// the durable queue, any other once its route is decided (a quick command started, a refusal).
/// `handle` itself returns only when the message's turn or command is over, which may be
/// minutes; an adapter that must not confirm a message to its platform before it is safe
/// (Telegram's `offset`) waits for this instead.
///
/// Carried as a task-local around the `handle` call, so that no signature changes and any
/// handler that does not know it (a test's recorder) still ends the wait by returning.
package final class InboundReceipt: Sendable {
    @TaskLocal package static var current: InboundReceipt?

    private let state = Mutex<(taken: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    package init() {}

    /// The message is taken; later calls do nothing.
    package func taken() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.taken else { return [] }
            state.taken = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `taken()` was called.
    package func waitUntilTaken() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if !state.taken { state.waiters.append(continuation) }
                return state.taken
            }
            if done { continuation.resume() }
        }
    }

    /// `handle` with a receipt: returns once the message is taken, while its handling goes on
    /// in a task of its own.
    package static func hand(_ message: InboundMessage, to inbound: any InboundHandler, replies: any ReplySink) async {
        let receipt = InboundReceipt()
        Task {
            await $current.withValue(receipt) { await inbound.handle(message, replies: replies) }
            receipt.taken()
        }
        await receipt.waitUntilTaken()
    }
}
