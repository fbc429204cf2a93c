import CGatewayShims
import GatewayCore
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The signals that steer the daemon's lifecycle, taken as data, never by a handler and never
/// ignored.
///
/// `block()` is the first thing `main` does, before any thread exists: every thread started
/// later (NIO's, the runner's, the log writer's, the pool's) inherits the mask, so a SIGTERM at
/// any moment waits, in a signalfd then in `reader`'s stream, for `SignalService`, and is then
/// a drain and exit 0, even when it came before READY=1. Children start with an empty mask
/// (`Spawner` sets it), so a command the daemon runs can still be stopped by its signals.
enum LifecycleSignals {
    /// TERM and INT stop, USR1 restarts, HUP reloads; USR2 wedges the dispatcher, only with
    /// the test hooks on (otherwise it keeps its default action).
    static var all: [Int32] {
        [SIGTERM, SIGINT, SIGUSR1, SIGHUP] + (ProcessEnvironment.value(GatewayConstants.Environment.testHooks) == "1" ? [SIGUSR2] : [])
    }

    /// Also SIGCHLD, never read: blocked in every thread, it stays pending once and every later
    /// one is dropped where it is raised (see `Spawner`), instead of waking this thread's poll.
    static func block() {
        var signals = all + [SIGCHLD]
        _ = gw_block_signals(&signals, Int32(signals.count))
    }

    /// The signals as they come, from the main thread's reader (made once they are blocked).
    static let reader = SignalReader(all)
}

/// Hands each lifecycle signal to `handle`, in order, from the start of the service group to
/// its end (it is the first service, so the last one shut down: a second SIGTERM still
/// interrupts the turns while everything else winds down). Signals that came before the group
/// ran (during the config check, the store's opening) wait in the stream and come first.
struct SignalService: Service {
    let signals: AsyncStream<Int32>
    let handle: @Sendable (Int32) async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { [signals, handle] in
            for await number in signals { await handle(number) }
        }
    }
}

/// Reads the lifecycle signals from a signalfd on the main thread, which has nothing else to
/// do (the daemon runs on the pool and NIO's loops): no thread of its own, and no blocking read
/// on the cooperative pool. `run()` returns once `stop()` is called.
final class SignalReader: Sendable {
    let signals: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let signalFD: Int32
    private let wakeFD: Int32

    /// The signals must be blocked in every thread already (`LifecycleSignals.block()`).
    init(_ numbers: [Int32]) {
        var numbers = numbers
        signalFD = gw_signalfd(&numbers, Int32(numbers.count))
        wakeFD = gw_eventfd()
        // Only at the start of the process, with descriptors to spare: failing here is a bug.
        precondition(signalFD >= 0 && wakeFD >= 0, "signalfd/eventfd: \(String(cString: strerror(errno)))")
        (signals, continuation) = AsyncStream<Int32>.makeStream()
    }

    /// Reads signals until `stop()`. A signalfd that fails (a bug: poll and read retry what
    /// can be retried) ends the process with EX_SOFTWARE, not with `main` returning, which
    /// would be exit 0 in the middle of serving and no restart by `Restart=on-failure`.
    func run() {
        while true {
            let number = gw_signalfd_next(signalFD, wakeFD)
            if number == 0 { break }
            guard number > 0 else {
                let message = "gatewayd: reading signals failed: \(String(cString: strerror(errno))); exiting\n"
                _ = message.withCString { write(2, $0, strlen($0)) }
                exit(70)
            }
            continuation.yield(number)
        }
        continuation.finish()
    }

    /// Ends `run()`; signals that come after stay pending (the process is about to exit).
    func stop() {
        _ = gw_eventfd_signal(wakeFD)
    }
}
