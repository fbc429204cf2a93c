import CGatewayShims
#if canImport(Glibc)
import Glibc
#endif

/// A few threads that do nothing but `posix_spawn`, for spawns that would otherwise block a
/// thread other work is waiting on. posix_spawn uses CLONE_VFORK: the calling thread is stopped
/// until the child has called execve, which on a loaded machine (every core busy with the
/// commands already running) is the time the child waits for a core, often milliseconds. Done on
/// the control socket's one event-loop thread, or inside the dispatcher, that wait would
/// serialise every spawn and every other call behind it (32 commands in flight ran at a third
/// of the C floor's rate); here up to `count` children are on their way to execve at once, as
/// they are with the C floor's 32 threads, while the event loop keeps serving.
final class SpawnThreads: @unchecked Sendable {
    static let shared = SpawnThreads(count: 4)

    private struct Request {
        let id: UInt64
        let spec: ProcessSpec
        /// nil: cancelled while still queued (nothing was spawned).
        let continuation: CheckedContinuation<Result<SpawnedProcess, ProcessRunnerError>?, Never>
    }

    private let count: Int
    /// Heap-allocated: a pthread mutex or condition must not move, and Swift promises no fixed
    /// address for a stored property passed with `&`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// Guarded by `mutex`.
    private var queue: [Request] = []
    /// Threads started so far (guarded by `mutex`); fewer than `count` when creating one failed.
    private var running = 0
    private var nextID: UInt64 = 0

    init(count: Int) {
        self.count = count
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    /// Only test instances end (with no thread started); the shared one lives with the process.
    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// `Spawner.spawn(spec)` on one of the threads; the caller's thread is free meanwhile.
    /// nil when the task was cancelled while the spawn was still queued: nothing was started (a
    /// cancelled request must not run its command, even for the instant before it is killed).
    /// A spawn already under way completes; the caller kills what it started.
    func spawn(_ spec: ProcessSpec) async throws(ProcessRunnerError) -> SpawnedProcess? {
        pthread_mutex_lock(mutex)
        let id = nextID
        nextID &+= 1
        let threads = startThreadsIfNeeded()
        pthread_mutex_unlock(mutex)
        // No thread could be created (a TasksMax= reached): spawned here, as when alone.
        if threads == 0 && count > 0 { return try Spawner.spawn(spec) }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<SpawnedProcess, ProcessRunnerError>?, Never>) in
                pthread_mutex_lock(mutex)
                // Cancelled before it was queued: the handler below found nothing to take out.
                guard !Task.isCancelled else {
                    pthread_mutex_unlock(mutex)
                    continuation.resume(returning: nil)
                    return
                }
                queue.append(Request(id: id, spec: spec, continuation: continuation))
                pthread_cond_signal(condition)
                pthread_mutex_unlock(mutex)
            }
        } onCancel: {
            pthread_mutex_lock(mutex)
            let index = queue.firstIndex { $0.id == id }
            let request = index.map { queue.remove(at: $0) }
            pthread_mutex_unlock(mutex)
            request?.continuation.resume(returning: nil)
        }
        return try result?.get()
    }

    /// Started on first use (a daemon whose quick commands run one at a time never needs them);
    /// one that could not be created is tried again on a later spawn. Returns how many run.
    /// Called with `mutex` held.
    private func startThreadsIfNeeded() -> Int {
        while running < count {
            let created = gw_start_thread("gw-spawn", { context in
                Unmanaged<SpawnThreads>.fromOpaque(context!).takeUnretainedValue().serve()
            }, Unmanaged.passUnretained(self).toOpaque())
            guard created == 0 else { break }
            running += 1
        }
        return running
    }

    private func serve() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty { pthread_cond_wait(condition, mutex) }
            let request = queue.removeFirst()
            pthread_mutex_unlock(mutex)
            request.continuation.resume(returning: Result { () throws(ProcessRunnerError) in try Spawner.spawn(request.spec) })
        }
    }
}
