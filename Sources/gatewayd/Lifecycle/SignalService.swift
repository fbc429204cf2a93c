import CGatewayShims
import GatewayCore
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The signals that steer the daemon's lifecycle, taken as data, never by a handler and never
/// ignored.
///
/// `block()` is the first thing `main` does, before any thread exists: every thread started
/// later (NIO's, the runner's, the log writer's, the pool's) inherits the mask, so a SIGTERM at
/// any moment stays pending until `SignalService` reads it from a signalfd, and is then a
/// drain and exit 0, even when it came before READY=1. Children start with an empty mask
/// (`Spawner` sets it), so a command the daemon runs can still be stopped by its signals.
enum LifecycleSignals {
    /// TERM and INT stop, USR1 restarts, HUP reloads; USR2 wedges the dispatcher, only with
    /// the test hooks on (otherwise it keeps its default action).
    static var all: [Int32] {
        [SIGTERM, SIGINT, SIGUSR1, SIGHUP] + (ProcessEnvironment.value(GatewayConstants.Environment.testHooks) == "1" ? [SIGUSR2] : [])
    }

    static func block() {
        var signals = all
        _ = gw_block_signals(&signals, Int32(signals.count))
    }
}

/// Reads the lifecycle signals and hands each to `handle`, in order, from the start of the
/// service group to its end (it is the first service, so the last one shut down: a second
/// SIGTERM still interrupts the turns while everything else winds down).
struct SignalService: Service {
    let signals: [Int32]
    let handle: @Sendable (Int32) async -> Void

    func run() async throws {
        let reader = try SignalReader(signals)
        await withGracefulShutdownHandler {
            for await number in reader.signals { await handle(number) }
        } onGracefulShutdown: {
            reader.stop()
        }
    }
}

/// A thread of its own (`gw-signals`) waiting on a signalfd: a blocking read has no place on
/// the cooperative pool. It ends, and `signals` with it, when `stop()` wakes it.
final class SignalReader: Sendable {
    let signals: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let signalFD: Int32
    private let wakeFD: Int32

    struct OpenFailed: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "cannot read signals: \(String(cString: strerror(code)))" }
    }

    init(_ numbers: [Int32]) throws(OpenFailed) {
        var numbers = numbers
        let signalFD = gw_signalfd(&numbers, Int32(numbers.count))
        guard signalFD >= 0 else { throw OpenFailed(code: errno) }
        let wakeFD = gw_eventfd()
        guard wakeFD >= 0 else {
            let code = errno
            close(signalFD)
            throw OpenFailed(code: code)
        }
        self.signalFD = signalFD
        self.wakeFD = wakeFD
        (signals, continuation) = AsyncStream<Int32>.makeStream()
        let created = gw_start_thread("gw-signals", { context in
            let reader = Unmanaged<SignalReader>.fromOpaque(context!).takeRetainedValue()
            reader.loop()
        }, Unmanaged.passRetained(self).toOpaque())
        guard created == 0 else {
            Unmanaged.passUnretained(self).release()
            close(signalFD)
            close(wakeFD)
            throw OpenFailed(code: created)
        }
    }

    private func loop() {
        while true {
            let number = gw_signalfd_next(signalFD, wakeFD)
            guard number > 0 else { break }
            continuation.yield(number)
        }
        continuation.finish()
    }

    /// Once both the thread and the service let go: no write to a descriptor closed under it.
    deinit {
        close(signalFD)
        close(wakeFD)
    }

    /// Ends the thread; signals that come after stay pending (the process is about to exit).
    func stop() {
        _ = gw_eventfd_signal(wakeFD)
    }
}
