import CGatewayShims
import Foundation
import Testing

/// Runs each test it is given to on a thread of its own instead of Swift's cooperative pool.
///
/// Why: the cooperative pool has one thread per CPU (two on CI machines), and Swift Testing runs
/// suites side by side. A test whose body blocks — waiting for a systemd sandbox, `systemd-analyze`
/// or a helper process — holds one of those threads for seconds; two such tests at once starved
/// every async test of the process (a `Task` meant to spawn a shell did not run for 10 s and the
/// test waiting for it timed out). On a thread of its own the block costs nobody anything.
///
/// Only for tests whose body is synchronous: child tasks inherit the executor preference, so an
/// async test that blocked while its own child tasks wanted to run would wait for itself.
public struct OwnThreadTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        let executor = DedicatedThreadExecutor(name: OwnThreadTrait.threadName)
        defer { executor.finish() }
        try await withTaskExecutorPreference(executor) { try await function() }
    }

    /// The name of the threads (as `/proc/thread-self/comm` shows it).
    public static let threadName = "gw-test-own"
}

extension Trait where Self == OwnThreadTrait {
    /// The test body runs on a thread of its own, not on a cooperative thread (see `OwnThreadTrait`).
    public static var ownThread: Self { OwnThreadTrait() }
}

/// The kernel's name of the calling thread (Linux threads inherit their creator's name until they
/// set their own, so a thread of Dispatch's pool shows as such).
public func currentThreadName() -> String {
    ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A task executor with one thread that runs its jobs in order until `finish()`.
public final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    public init(name: String) {
        let created = gw_start_thread(name, { context in
            Unmanaged<DedicatedThreadExecutor>.fromOpaque(context!).takeRetainedValue().runJobs()
        }, Unmanaged.passRetained(self).toOpaque())
        precondition(created == 0, "DedicatedThreadExecutor: cannot start a thread: \(created)")
    }

    public func enqueue(_ job: UnownedJob) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// The thread ends once the jobs queued so far have run.
    public func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
