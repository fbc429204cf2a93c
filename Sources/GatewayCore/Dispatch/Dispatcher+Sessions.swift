extension Dispatcher {
    /// Marks the session active, bringing it into memory if it is not: a session evicted
    /// earlier (or never seen by this process) has its turn count fetched from the store, which
    /// answers before any turn of this incarnation is written (its writes are in call order).
    func touchSession(_ key: String) {
        let now = clock.now()
        guard let generation = sessions.touch(key, now: now) else { return }
        // A message of this key may be on its way in (the session was removed under it).
        if routingOrder[key] != nil { sessions.hold(key) }
        if let store {
            store.lookUpSession(key) { [weak self] record in
                guard let self, let record, record.turnCount > 0 || record.usage != .none else { return }
                Task { await self.adoptStoredTurns(key, generation: generation, record) }
            }
        }
        syncSessionCounters()
        scheduleSessionSweep()
    }

    private func adoptStoredTurns(_ key: String, generation: UInt64, _ record: SessionRecord) {
        sessions.adoptStoredTurns(key, generation: generation, turnCount: record.turnCount, usage: record.usage)
    }

    /// Copies the table's counts into `counters`, telling subscribers when they changed.
    func syncSessionCounters(force: Bool = false) {
        guard force || counters.sessions != sessions.count || counters.queued != sessions.queued else { return }
        counters.sessions = sessions.count
        counters.queued = sessions.queued
        publish(.countersChanged(counters))
    }

    /// New `sessions:` settings (a reload): a lower `max` evicts at once, a new `idle_timeout`
    /// re-times the sweep.
    func applySessionLimits(_ limits: SessionsConfig) {
        guard limits != sessions.limits else { return }
        sessions.apply(limits)
        sessions.evictExpired(now: clock.now())
        sessionSweep?.cancel()
        sessionSweep = nil
        sessionSweepWake = nil
        syncSessionCounters()
        scheduleSessionSweep()
    }

    /// Makes sure a sweep wakes by the time the least recently active idle session expires.
    /// Costs a comparison when one is already due by then (every message calls it).
    func scheduleSessionSweep() {
        guard let expiry = sessions.nextExpiry else { return }
        if let wake = sessionSweepWake, wake <= expiry { return }
        sessionSweep?.cancel()
        sessionSweepWake = expiry
        let clock = self.clock
        let delay = max(.zero, expiry - clock.now())
        sessionSweep = Task { [weak self] in
            do { try await clock.sleep(for: delay) } catch { return }
            await self?.sweepSessions()
        }
    }

    /// Evicts the idle sessions past `idle_timeout` and sleeps until the next one expires.
    private func sweepSessions() {
        sessionSweep = nil
        sessionSweepWake = nil
        sessions.evictExpired(now: clock.now())
        syncSessionCounters()
        scheduleSessionSweep()
    }
}
