import Dispatch

/// The process's entry: a synchronous `main`, so that its first instruction runs on the main
/// thread before any other thread exists.
///
/// It blocks the lifecycle signals there (`LifecycleSignals`): every thread started later
/// inherits the mask, and a SIGTERM from this moment on waits for `SignalService`, which makes
/// it a drain and exit 0. An `async` main could not: its main thread parks in Dispatch's
/// `sigsuspend` with an empty mask, where any pending signal takes its default action (a
/// SIGTERM before READY=1 killed the daemon). Here the main thread waits on a semaphore, with
/// the signals blocked, while the command runs on the cooperative pool.
@main
enum GatewaydMain {
    static func main() {
        LifecycleSignals.block()
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await GatewayDaemon.main(nil)
            finished.signal()
        }
        finished.wait()
    }
}
