/// A subscriber's stream and which events it wants.
struct EventObserver {
    let continuation: AsyncStream<GatewayEvent>.Continuation
    let isIncluded: @Sendable (GatewayEvent) -> Bool
}

extension Dispatcher {
    /// Every event from now on for which `isIncluded` holds. The stream keeps the newest 1,024
    /// if its reader falls behind.
    ///
    /// Each event wakes the reader's task: a reader that only follows state and counters (the
    /// daemon's `STATUS=`) should leave out the records (`GatewayEvent.isRecord`), which come
    /// with every message and quick command.
    package func subscribe(where isIncluded: @escaping @Sendable (GatewayEvent) -> Bool = { _ in true })
        -> AsyncStream<GatewayEvent>
    {
        let (stream, continuation) = AsyncStream<GatewayEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = nextObserverID
        nextObserverID += 1
        observers[id] = EventObserver(continuation: continuation, isIncluded: isIncluded)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeObserver(id) }
        }
        return stream
    }

    /// Calls `sink` with every event from now on, synchronously, on the dispatcher, in order.
    /// For what must follow every message without waking another thread for it (the journal
    /// record of each message and quick command: a stream's wake-up cost an exec quick
    /// command's reply ≈30 µs on a two-core machine). `sink` must be quick and must not block.
    package func observe(_ sink: @escaping @Sendable (GatewayEvent) -> Void) {
        sinks.append(sink)
    }

    /// Calls `sink` with the audit record of every privileged chat command (an exec quick
    /// command refused or failed, `/restart`, `/stop`), synchronously, on the dispatcher. A quick
    /// command that ran is audited by its `quickCommandFinished` event instead (`report.audit`):
    /// one journal record per run.
    package func setAuditSink(_ sink: @escaping AuditSink) {
        auditSink = sink
    }

    /// Hands a record to the audit sink; builds it only when there is one.
    func audit(_ record: @autoclosure () -> AuditRecord) {
        guard let auditSink else { return }
        auditSink(record())
    }

    private func removeObserver(_ id: UInt64) { observers[id] = nil }

    /// Subscribers whose streams are open (for tests: a stream that ended, its reader gone, must
    /// not leave its observer behind).
    package var observerCount: Int { observers.count }

    /// Builds the event only when someone listens (the hot path has no observers in the
    /// benchmark, and building the event costs allocations).
    func publish(_ event: @autoclosure () -> GatewayEvent) {
        guard !observers.isEmpty || !sinks.isEmpty else { return }
        let value = event()
        for sink in sinks { sink(value) }
        for observer in observers.values where observer.isIncluded(value) { observer.continuation.yield(value) }
    }
}
