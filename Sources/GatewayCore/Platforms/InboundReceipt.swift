import NIOConcurrencyHelpers

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

    private let state = NIOLockedValueBox<(taken: Bool, cancelled: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, false, []))

    package init() {}

    /// The message is taken; later calls do nothing.
    package func taken() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            guard !state.taken else { return [] }
            state.taken = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `taken()` was called (true), or when the waiting task is cancelled (false,
    /// unless it was taken by then): a stopping adapter does not wait for a gate that may never
    /// open, and does not confirm what it cannot tell was taken.
    package func waitUntilTaken() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let done = state.withLockedValue { state in
                    let done = state.taken || state.cancelled
                    if !done { state.waiters.append(continuation) }
                    return done
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
                state.cancelled = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        return state.withLockedValue { $0.taken }
    }

    /// `handle` with a receipt: returns once the message is taken (true), while its handling
    /// goes on in a task of its own; false when the caller was cancelled before that.
    package static func hand(_ message: InboundMessage, to inbound: any InboundHandler, replies: any ReplySink) async -> Bool {
        let receipt = InboundReceipt()
        Task {
            await $current.withValue(receipt) { await inbound.handle(message, replies: replies) }
            receipt.taken()
        }
        return await receipt.waitUntilTaken()
    }
}
