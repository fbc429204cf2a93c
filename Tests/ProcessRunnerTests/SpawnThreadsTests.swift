import Foundation
@testable import ProcessRunner
import NIOConcurrencyHelpers
import Testing

/// The spawn threads' queue: a spawn waiting there when its task is cancelled.
@Suite("Spawn threads", .timeLimit(.minutes(1)))
struct SpawnThreadsTests {
    @Test("a spawn cancelled while queued returns at once and starts nothing")
    func cancelledWhileQueued() async throws {
        // No threads: whatever is queued stays queued, as it does while all four are busy.
        let threads = SpawnThreads(count: 0)
        let marker = NSTemporaryDirectory() + "spawn-cancelled-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        defer { unlink(marker) }
        let spec = ProcessSpec.shell("touch \"$1\"", arguments: [marker], environment: ProcessRunner.minimalEnvironment,
                                     timeout: .seconds(30), killGrace: .seconds(1), outputLimit: 1024)
        let queued = Task { () -> Bool in
            let spawned = try? await threads.spawn(spec)
            return spawned == nil
        }
        queued.cancel()
        // Bounded: without the cancellation handler the spawn waits in the queue for ever.
        let answer = FirstAnswer()
        let first: Bool? = await withCheckedContinuation { continuation in
            answer.set(continuation)
            Task { answer.resume(await queued.value) }
            Task { try? await Task.sleep(for: .seconds(30)); answer.resume(nil) }
        }
        #expect(first == true, "the queued spawn did not come back when its task was cancelled")
        #expect(access(marker, F_OK) != 0, "the command ran")
    }
}

/// A continuation resumed by whichever answer comes first.
private final class FirstAnswer: Sendable {
    private let slot = NIOLockedValueBox<CheckedContinuation<Bool?, Never>?>(nil)
    func set(_ continuation: CheckedContinuation<Bool?, Never>) { slot.withLockedValue { $0 = continuation } }
    func resume(_ value: Bool?) { slot.withLockedValue { $0.take() }?.resume(returning: value) }
}
