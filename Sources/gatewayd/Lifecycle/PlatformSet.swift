import GatewayCore
import Logging
import NIOCore
import Platforms
import NIOConcurrencyHelpers
import Varlink

/// The network adapters serving now, by platform name, and a reload's changes to them: an
/// adapter whose settings did not change is left alone (its connection, its requests in
/// flight), one that can take its new settings on the open connection takes them there, any
/// other is replaced (stopped, delivering what it has queued, then a new one started), a
/// removed one stops and an added one starts.
actor PlatformSet {
    private var running: [String: (adapter: any PlatformAdapter, settings: any PlatformSettings)] {
        didSet { publish() }
    }
    /// `running`'s adapters in name order, readable without waiting for the actor (GetStatus).
    private nonisolated let servingList: NIOLockedValueBox<[any PlatformAdapter]>

    /// The adapters serving now, in name order.
    nonisolated var serving: [any PlatformAdapter] { servingList.withLockedValue { $0 } }

    /// Configured platforms that a reload could not start (neither with their new settings nor
    /// with their old ones), with why: they serve nothing, and GetStatus (so `gatewayctl
    /// health`) must say so rather than leave them out as if they were not configured.
    private var failed: [String: String] = [:] {
        didSet { failedList.withLockedValue { $0 = failed.keys.sorted().map { ($0, failed[$0]!) } } }
    }
    private nonisolated let failedList = NIOLockedValueBox<[(name: String, reason: String)]>([])

    /// `failed`, in name order, readable without waiting for the actor (GetStatus).
    nonisolated var down: [(name: String, reason: String)] { failedList.withLockedValue { $0 } }

    private func publish() {
        let adapters = Self.inNameOrder(running)
        servingList.withLockedValue { $0 = adapters }
    }

    private static func inNameOrder(_ running: [String: (adapter: any PlatformAdapter, settings: any PlatformSettings)]) -> [any PlatformAdapter] {
        running.keys.sorted().compactMap { running[$0]?.adapter }
    }
    private let eventLoops: any EventLoopGroup
    private let inbound: any InboundHandler
    private let logger: Logger
    /// Replaced adapters still answering their requests under way (see `apply`); the shutdown
    /// waits for them.
    private var retiring: [UInt64: Task<Void, Never>] = [:]
    private var nextRetiring: UInt64 = 0

    private func retired(_ id: UInt64) { retiring[id] = nil }

    /// `stopAll()` ran (the shutdown): a reload under way starts nothing after it.
    private var stopped = false

    /// `adapters`: built at start from `settings` (see `StartupCheck`), started by `startAll()`.
    init(adapters: [any PlatformAdapter], settings: [String: any PlatformSettings], inbound: any InboundHandler,
         eventLoops: any EventLoopGroup, logger: Logger) {
        var running: [String: (adapter: any PlatformAdapter, settings: any PlatformSettings)] = [:]
        for adapter in adapters {
            if let configured = settings[adapter.name] { running[adapter.name] = (adapter, configured) }
        }
        self.running = running
        servingList = NIOLockedValueBox(Self.inNameOrder(running))
        self.eventLoops = eventLoops
        self.inbound = inbound
        self.logger = logger
    }

    /// The settings each running adapter serves with (after a failed reload: the old ones).
    var settings: [String: any PlatformSettings] { running.mapValues(\.settings) }

    /// Starts every adapter at once; the first failure is thrown, after the others that did
    /// start are stopped again (the daemon then exits without them half-running).
    func startAll() async throws {
        let adapters = serving, inbound = self.inbound
        let failures = await withTaskGroup(of: (String, (any Error)?).self) { group in
            for adapter in adapters {
                group.addTask {
                    do { try await adapter.start(inbound: inbound); return (adapter.name, nil) } catch { return (adapter.name, error) }
                }
            }
            var failures: [(String, any Error)] = []
            for await (name, error) in group { if let error { failures.append((name, error)) } }
            return failures
        }
        guard let (name, error) = failures.first else { return }
        for (failed, error) in failures {
            logger.critical("platform \(failed) cannot start: \(describeSystemError(error))", metadata: ["event": "platform_failed", "platform": "\(failed)"])
        }
        let failed = Set(failures.map(\.0))
        for adapter in adapters where !failed.contains(adapter.name) { await adapter.stop(flushingWithin: .zero) }
        running = [:]
        throw PlatformStartFailed(platform: name, reason: describeSystemError(error))
    }

    /// Stops every adapter at once, each delivering what it has queued for at most `limit`.
    func stopAll(flushingWithin limit: Duration) async {
        let adapters = serving
        running = [:]
        failed = [:]
        stopped = true
        await withTaskGroup(of: Void.self) { group in
            for adapter in adapters { group.addTask { await adapter.stop(flushingWithin: limit) } }
        }
        let retiringNow = retiring.values
        retiring = [:]
        for task in retiringNow { await task.value }
    }

    /// What a reload did to one platform.
    struct Outcome {
        var summary: String
        /// It could not start with its new settings (it runs with the old ones, or not at all).
        var failed = false
    }

    /// Puts `settings` (a reloaded file's `platforms`) in force, one platform at a time;
    /// returns what happened to each platform that changed, for the reply and the journal.
    func apply(_ settings: [String: any PlatformSettings]) async -> [String: Outcome] {
        var outcomes: [String: Outcome] = [:]
        // One no longer configured is no longer down; one still configured is tried again below.
        failed = failed.filter { settings[$0.key] != nil }
        for name in Set(running.keys).union(settings.keys).sorted() {
            let current = running[name], wanted = settings[name]
            switch (current, wanted) {
            case (nil, nil): continue
            case let (current?, nil):
                running[name] = nil
                await current.adapter.stop(flushingWithin: GatewayConstants.replyFlushMargin)
                outcomes[name] = Outcome(summary: "stopped")
            case let (nil, wanted?):
                let problem = await start(name, wanted)
                failed[name] = problem
                outcomes[name] = Outcome(summary: problem ?? "started", failed: problem != nil)
            case let (current?, wanted?):
                guard let keys = wanted.changedKeys(fromAny: current.settings), !keys.isEmpty else { continue }
                if await current.adapter.apply(wanted) {
                    running[name] = (current.adapter, wanted)
                    outcomes[name] = Outcome(summary: "applied in place")
                    continue
                }
                // One that can listen beside its successor (a webhook on a new address) keeps
                // answering its requests under way while the new one already serves.
                if current.adapter.canRunBesideSuccessor,
                   await launch(name, make(name, wanted), wanted, reportingFailure: false) == nil {
                    // Its requests under way may take a while: the reload does not wait for them.
                    let old = current.adapter, id = nextRetiring
                    nextRetiring += 1
                    retiring[id] = Task {
                        await old.stop(flushingWithin: GatewayConstants.replyFlushMargin)
                        await self.retired(id)
                    }
                    outcomes[name] = Outcome(summary: "restarted with the new settings")
                    continue
                }
                running[name] = nil
                // Built before the old one stops, so that replies to its messages that come
                // after it stopped (a turn outliving the replacement) have somewhere to go.
                let replacement = make(name, wanted)
                if case .success(let adapter) = replacement { current.adapter.handOver(to: adapter) }
                // Not serving while it changes over: status and health say so, rather than
                // leaving the platform out (which `gatewayctl health` would take for ready).
                failed[name] = GatewayText.platformBeingReplaced
                await current.adapter.stop(flushingWithin: GatewayConstants.replyFlushMargin)
                guard let problem = await launch(name, replacement, wanted) else {
                    failed[name] = nil
                    outcomes[name] = Outcome(summary: "restarted with the new settings")
                    continue
                }
                // The old settings worked: back to them rather than leaving the platform down.
                let fallback = make(name, current.settings)
                if case .success(let adapter) = fallback { current.adapter.handOver(to: adapter) }
                let restored = await launch(name, fallback, current.settings)
                failed[name] = restored.map { problem + "; with the old settings too: \($0)" }
                outcomes[name] = Outcome(summary: problem + (restored.map { "; with the old settings too (\($0)): the platform is down" }
                    ?? "; running with the old settings"), failed: true)
            }
        }
        return outcomes
    }

    /// Builds and starts an adapter; nil when it serves, otherwise why not.
    private func start(_ name: String, _ settings: any PlatformSettings) async -> String? {
        await launch(name, make(name, settings), settings)
    }

    /// The adapter for `settings`, built, not started.
    private func make(_ name: String, _ settings: any PlatformSettings) -> Result<any PlatformAdapter, PlatformError> {
        Result { () throws(PlatformError) in try PlatformCatalog.makeAdapter(settings, eventLoops: eventLoops) }
    }

    /// Starts what `make` built; nil when it serves, otherwise why not.
    /// `reportingFailure` false: a try whose failure has a fallback (no error record for it).
    private func launch(_ name: String, _ made: Result<any PlatformAdapter, PlatformError>, _ settings: any PlatformSettings,
                        reportingFailure: Bool = true) async -> String? {
        do {
            guard !stopped else { return GatewayText.platformNotStartedStopping }
            let adapter = try made.get()
            try await adapter.start(inbound: inbound)
            guard !stopped else {
                // The shutdown's stopAll() ran while it started: nothing would stop it later.
                await adapter.stop(flushingWithin: .zero)
                return GatewayText.platformNotStartedStopping
            }
            running[name] = (adapter, settings)
            return nil
        } catch {
            let reason = "cannot start: \(describeSystemError(error))"
            if reportingFailure {
                logger.error("platform \(name) \(reason)", metadata: ["event": "platform_failed", "platform": "\(name)"])
            }
            return reason
        }
    }
}

/// An adapter that could not start at the daemon's start (it was logged where it failed).
struct PlatformStartFailed: Error {
    let platform: String
    let reason: String
}
