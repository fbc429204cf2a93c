/// The sessions in memory, their counters (sessions, queued messages) and the order in which idle
/// ones are forgotten: a value the dispatcher owns, tested on its own without tasks.
///
/// Every change goes through a transition here, so the counters and the idle list can never
/// disagree with the sessions. Idle sessions (no turn, nothing queued, nothing held) sit in a
/// doubly linked list, least recently active first; busy ones are not in it. So evicting past
/// `sessions.max` and expiring after `sessions.idle_timeout` take the list's head, O(1) each,
/// and no message ever scans the table. An evicted session's durable state (its turn count)
/// stays in the state store; the dispatcher brings it back with the session's next message.
struct SessionTable {
    private struct Slot {
        var session: Session
        /// When it joined the idle list (its last activity, or the end of its last turn).
        var idleSince: Duration = .zero
        var previous = -1
        var next = -1
        var isListed = false
    }

    /// Sessions live in slots (reused once free) so that the idle list links are indices, not keys.
    private var slots: [Slot?] = []
    private var freeSlots: [Int] = []
    private var slotByKey: [String: Int] = [:]
    /// The idle list: `idleHead` is the least recently active idle session.
    private var idleHead = -1
    private var idleTail = -1
    /// Slots of the sessions not in the idle list (a turn, a queue or a hold): what the turn
    /// monitor, the drain and `resume` walk instead of every session.
    private(set) var busySlots: Set<Int> = []
    private var nextGeneration: UInt64 = 1

    private(set) var limits: SessionsConfig
    /// Messages waiting in every session's queue.
    private(set) var queued = 0
    /// Sessions evicted so far (idle timeout and `max`), for the log and tests.
    private(set) var evictions = 0

    init(limits: SessionsConfig = SessionsConfig()) {
        self.limits = limits
    }

    var count: Int { slotByKey.count }
    var idleCount: Int { count - busySlots.count }

    subscript(key: String) -> Session? {
        guard let slot = slotByKey[key] else { return nil }
        return slots[slot]!.session
    }

    func contains(_ key: String) -> Bool { slotByKey[key] != nil }

    /// The busy sessions' keys (a copy: callers change the table while they walk it).
    var busyKeys: [String] { busySlots.map { slots[$0]!.session.key } }

    /// Every session, by key (`ListSessions`: at most `max` plus the busy ones).
    var all: [Session] { slotByKey.values.map { slots[$0]!.session }.sorted { $0.key < $1.key } }

    // MARK: Arrival and eviction

    /// Marks the session active now, creating it (after evicting the least recently active idle
    /// session when the table is full) when it is not in memory. Returns the new session's
    /// generation when it was created (the caller then asks the store for its durable state).
    @discardableResult
    mutating func touch(_ key: String, now: Duration) -> UInt64? {
        if let slot = slotByKey[key] {
            slots[slot]!.session.lastActive = now
            if slots[slot]!.isListed {
                unlink(slot)
                link(slot, now: now)
            }
            return nil
        }
        while count >= limits.max, idleHead >= 0 { evict(idleHead) }
        let generation = nextGeneration
        nextGeneration += 1
        insert(Session(key: key, createdAt: now, generation: generation), now: now)
        return generation
    }

    /// Adds a session recovered from the store (or replayed messages' session); the table's
    /// bound does not apply (recovery already keeps to it, most recent first).
    mutating func restore(_ key: String, turnCount: Int, now: Duration) {
        guard slotByKey[key] == nil else { return }
        var session = Session(key: key, createdAt: now, generation: nextGeneration)
        nextGeneration += 1
        session.turnCount = turnCount
        insert(session, now: now)
    }

    /// Adds the turns an earlier incarnation ran (as the store counts them) to the session, if
    /// it is still the incarnation that asked. The store answers in order, before any turn of
    /// this incarnation is written, so the sum is the durable count.
    mutating func adoptStoredTurns(_ key: String, generation: UInt64, turnCount: Int) {
        guard let slot = slotByKey[key], slots[slot]!.session.generation == generation else { return }
        slots[slot]!.session.turnCount += turnCount
    }

    /// New limits (a reload): a lower `max` evicts at once, least recently active first.
    /// Returns how many were evicted.
    @discardableResult
    mutating func apply(_ newLimits: SessionsConfig) -> Int {
        limits = newLimits
        let before = evictions
        while count > limits.max, idleHead >= 0 { evict(idleHead) }
        return evictions - before
    }

    /// Evicts the idle sessions idle for `idle_timeout` or longer (from the list's head, so it
    /// costs only what it evicts). Returns how many.
    @discardableResult
    mutating func evictExpired(now: Duration) -> Int {
        let before = evictions
        while idleHead >= 0, slots[idleHead]!.idleSince + limits.idleTimeout <= now { evict(idleHead) }
        return evictions - before
    }

    /// When the least recently active idle session expires; nil with no idle session.
    var nextExpiry: Duration? {
        idleHead >= 0 ? slots[idleHead]!.idleSince + limits.idleTimeout : nil
    }

    /// The idle sessions' keys, least recently active first (tests).
    var idleOrder: [String] {
        var keys: [String] = []
        var slot = idleHead
        while slot >= 0 {
            keys.append(slots[slot]!.session.key)
            slot = slots[slot]!.next
        }
        return keys
    }

    // MARK: Turn state transitions

    /// Queues a message behind the running turn; returns the queue's length.
    @discardableResult
    mutating func enqueue(_ key: String, _ item: PendingMessage) -> Int {
        modify(key) { $0.pending.append(item) }?.0.pending.count ?? 0
    }

    /// An interrupting message: merged with the last waiting one (texts joined, its sink replies)
    /// so the next turn sees everything said since the interrupted one.
    mutating func mergeIntoPending(_ key: String, _ incoming: PendingMessage) {
        modify(key) { session in
            if var waiting = session.pending.last {
                waiting.message.text += "\n" + incoming.message.text
                waiting = PendingMessage(message: waiting.message, replies: incoming.replies,
                                         storeIDs: waiting.storeIDs + incoming.storeIDs)
                session.pending[session.pending.count - 1] = waiting
            } else {
                session.pending.append(incoming)
            }
        }
    }

    /// `idle` -> `starting`: takes the first queued message, when no turn runs.
    mutating func takeNext(_ key: String) -> PendingMessage? {
        guard let session = self[key], case .idle = session.state, !session.pending.isEmpty else { return nil }
        return modify(key) { session -> PendingMessage in
            session.state = .starting
            return session.pending.removeFirst()
        }.map { $0.1 }
    }

    /// `idle`/`starting` -> `running`; the turn count goes up.
    mutating func startTurn(_ key: String, _ turn: RunningTurn) {
        modify(key) {
            $0.state = .running(turn)
            $0.turnCount += 1
        }
    }

    /// `running` -> `idle`, if `id` is still the session's turn.
    mutating func finishTurn(_ key: String, id: UInt64, now: Duration) {
        guard self[key]?.turn?.id == id else { return }
        modify(key, now: now) { $0.state = .idle }
    }

    /// Flags the running turn (interrupted by the drain, or timed out).
    mutating func updateTurn(_ key: String, _ change: (inout RunningTurn) -> Void) {
        guard var turn = self[key]?.turn else { return }
        change(&turn)
        modify(key) { $0.state = .running(turn) }
    }

    /// `/stop`: drops what waits; returns it (its store rows are done).
    mutating func clearPending(_ key: String, now: Duration) -> [PendingMessage] {
        modify(key, now: now) { session -> [PendingMessage] in
            defer { session.pending.removeAll() }
            return session.pending
        }?.1 ?? []
    }

    mutating func acknowledged(_ key: String, at now: Duration) {
        modify(key) { $0.lastAcknowledgement = now }
    }

    /// A message on its way in (its store write under way): the session is busy until `release`.
    mutating func hold(_ key: String) { modify(key) { $0.holds += 1 } }

    /// Ends a `hold` (a no-op for a session that is gone or holds nothing: it was removed and
    /// came back while its message was on its way).
    mutating func release(_ key: String, now: Duration) {
        guard let held = self[key]?.holds, held > 0 else { return }
        modify(key, now: now) { $0.holds -= 1 }
    }

    /// `/new`: a fresh session under the same key (a new generation, no turns, no queue).
    /// Returns the new generation (nil when the key is not in memory).
    @discardableResult
    mutating func reset(_ key: String, now: Duration) -> UInt64? {
        guard slotByKey[key] != nil else { return nil }
        let generation = nextGeneration
        nextGeneration += 1
        modify(key, now: now) { session in
            var fresh = Session(key: key, createdAt: now, generation: generation)
            fresh.holds = session.holds
            session = fresh
        }
        return generation
    }

    /// Forgets the session (`gatewayctl sessions reset`).
    mutating func remove(_ key: String) -> Session? {
        guard let slot = slotByKey[key] else { return nil }
        return free(slot)
    }

    // MARK: Slots and the idle list

    private mutating func insert(_ session: Session, now: Duration) {
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[slot] = Slot(session: session)
        } else {
            slot = slots.count
            slots.append(Slot(session: session))
        }
        slotByKey[session.key] = slot
        queued += session.pending.count
        if session.isEvictable { link(slot, now: now) } else { busySlots.insert(slot) }
    }

    /// Applies `change` to the session and keeps the queued counter and the idle list right.
    /// A session that becomes idle joins the list's tail at `now`; nil `now` is for changes
    /// that cannot make a session idle.
    @discardableResult
    private mutating func modify<R>(_ key: String, now: Duration? = nil, _ change: (inout Session) -> R) -> (Session, R)? {
        guard let slot = slotByKey[key] else { return nil }
        let queuedBefore = slots[slot]!.session.pending.count
        let result = change(&slots[slot]!.session)
        let session = slots[slot]!.session
        queued += session.pending.count - queuedBefore
        if session.isEvictable != slots[slot]!.isListed {
            if session.isEvictable {
                busySlots.remove(slot)
                link(slot, now: now ?? slots[slot]!.session.lastActive)
            } else {
                unlink(slot)
                busySlots.insert(slot)
            }
        }
        return (session, result)
    }

    private mutating func evict(_ slot: Int) {
        free(slot)
        evictions += 1
    }

    @discardableResult
    private mutating func free(_ slot: Int) -> Session {
        let session = slots[slot]!.session
        if slots[slot]!.isListed { unlink(slot) } else { busySlots.remove(slot) }
        queued -= session.pending.count
        slotByKey[session.key] = nil
        slots[slot] = nil
        freeSlots.append(slot)
        return session
    }

    /// Appends to the idle list's tail (most recently active).
    private mutating func link(_ slot: Int, now: Duration) {
        slots[slot]!.idleSince = now
        slots[slot]!.previous = idleTail
        slots[slot]!.next = -1
        slots[slot]!.isListed = true
        if idleTail >= 0 { slots[idleTail]!.next = slot } else { idleHead = slot }
        idleTail = slot
    }

    private mutating func unlink(_ slot: Int) {
        let previous = slots[slot]!.previous, next = slots[slot]!.next
        if previous >= 0 { slots[previous]!.next = next } else { idleHead = next }
        if next >= 0 { slots[next]!.previous = previous } else { idleTail = previous }
        slots[slot]!.previous = -1
        slots[slot]!.next = -1
        slots[slot]!.isListed = false
    }
}
