import GatewayCore
import Synchronization

/// A handler that takes a message and never finishes it on its own: only cancellation ends it.
final class StuckHandler: InboundHandler, Sendable {
    let began: AsyncStream<Void>
    private let beganQueue: AsyncStream<Void>.Continuation
    let ended = Atomic<Bool>(false)

    init() { (began, beganQueue) = AsyncStream.makeStream() }

    func isAdmin(_ message: InboundMessage) async -> Bool { true }

    func handle(_ message: InboundMessage, replies: any ReplySink) async {
        beganQueue.yield()
        try? await Task.sleep(for: .seconds(600))
        ended.store(true, ordering: .sequentiallyConsistent)
    }
}
