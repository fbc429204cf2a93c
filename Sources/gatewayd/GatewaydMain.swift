import CGatewaydStart
/// The process's entry: a synchronous `main`, so that its first instruction runs on the main
/// thread before any other thread exists.
///
/// It blocks the lifecycle signals there (`LifecycleSignals`): every thread started later
/// inherits the mask, and a SIGTERM from this moment on waits for `SignalService`, which makes
/// it a drain and exit 0. An `async` main could not: its main thread parks in Dispatch's
/// `sigsuspend` with an empty mask, where any pending signal takes its default action (a
/// SIGTERM before READY=1 killed the daemon). Here the command runs on the cooperative pool
/// and the main thread reads the signals (`SignalReader`) until it is done.
@main
enum GatewaydMain {
    static func main() {
        // Already blocked by CGatewaydStart's constructor, before the runtime's; again here with
        // the test hook's SIGUSR2, and to keep that object linked.
        precondition(gw_start_linked() == 1)
        LifecycleSignals.block()
        let reader = LifecycleSignals.reader
        Task.detached {
            await GatewaydCommand.main(nil)
            reader.stop()
        }
        reader.run()
    }
}
