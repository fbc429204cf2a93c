import CGatewayShims
import Synchronization
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
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    /// Guarded by `mutex`.
    private var queue: [Request] = []
    private var started = false
    private var nextID: UInt64 = 0

    init(count: Int) {
        self.count = count
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// `Spawner.spawn(spec)` on one of the threads; the caller's thread is free meanwhile.
    /// nil when the task was cancelled while the spawn was still queued: nothing was started (a
    /// cancelled request must not run its command, even for the instant before it is killed).
    /// A spawn already under way completes; the caller kills what it started.
    func spawn(_ spec: ProcessSpec) async throws(ProcessRunnerError) -> SpawnedProcess? {
        pthread_mutex_lock(&mutex)
        let id = nextID
        nextID &+= 1
        pthread_mutex_unlock(&mutex)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<SpawnedProcess, ProcessRunnerError>?, Never>) in
                pthread_mutex_lock(&mutex)
                // Cancelled before it was queued: the handler below found nothing to take out.
                guard !Task.isCancelled else {
                    pthread_mutex_unlock(&mutex)
                    continuation.resume(returning: nil)
                    return
                }
                startThreadsIfNeeded()
                queue.append(Request(id: id, spec: spec, continuation: continuation))
                pthread_cond_signal(&condition)
                pthread_mutex_unlock(&mutex)
            }
        } onCancel: {
            pthread_mutex_lock(&mutex)
            let index = queue.firstIndex { $0.id == id }
            let request = index.map { queue.remove(at: $0) }
            pthread_mutex_unlock(&mutex)
            request?.continuation.resume(returning: nil)
        }
        return try result?.get()
    }

    /// Started on first use (a daemon whose quick commands run one at a time never needs them).
    /// Called with `mutex` held.
    private func startThreadsIfNeeded() {
        guard !started else { return }
        started = true
        for _ in 0..<count {
            let created = gw_start_thread("gw-spawn", { context in
                Unmanaged<SpawnThreads>.fromOpaque(context!).takeUnretainedValue().serve()
            }, Unmanaged.passUnretained(self).toOpaque())
            precondition(created == 0, "ProcessRunner: cannot start a spawn thread: \(created)")
        }
    }

    private func serve() {
        while true {
            pthread_mutex_lock(&mutex)
            while queue.isEmpty { pthread_cond_wait(&condition, &mutex) }
            let request = queue.removeFirst()
            pthread_mutex_unlock(&mutex)
            request.continuation.resume(returning: Result { () throws(ProcessRunnerError) in try Spawner.spawn(request.spec) })
        }
    }
}
