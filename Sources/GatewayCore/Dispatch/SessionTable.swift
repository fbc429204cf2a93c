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
    /// A slot's place in the idle list: plain values, so relinking costs no reference counting.
    private struct Link {
        /// When it joined the idle list (its last activity, or the end of its last turn).
        var idleSince: Duration = .zero
        var previous = -1
        var next = -1
        var isListed = false
    }

    /// Sessions live in slots (reused once free) so that the idle list links are indices, not
    /// keys. A free slot holds `Session.vacant`: not optional, so reading a field of a session
    /// borrows it in place instead of copying it out of an optional.
    private var storage: [Session] = []
    private var links: [Link] = []
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
        return storage[slot]
    }

    func contains(_ key: String) -> Bool { slotByKey[key] != nil }

    /// The session's running turn (without copying the rest of the session: the hot path asks).
    func turn(_ key: String) -> RunningTurn? {
        guard let slot = slotByKey[key] else { return nil }
        return storage[slot].turn
    }

    /// The busy sessions' keys (a copy: callers change the table while they walk it).
    var busyKeys: [String] { busySlots.map { storage[$0].key } }

    /// Every session, by key (`ListSessions`: at most `max` plus the busy ones).
    var all: [Session] { slotByKey.values.map { storage[$0] }.sorted { $0.key < $1.key } }

    // MARK: Arrival and eviction

    /// Marks the session active now, creating it (after evicting the least recently active idle
    /// session when the table is full) when it is not in memory. Returns the new session's
    /// generation when it was created (the caller then asks the store for its durable state).
    @discardableResult
    mutating func touch(_ key: String, now: Duration) -> UInt64? {
        if let slot = slotByKey[key] {
            storage[slot].lastActive = now
            if links[slot].isListed {
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
    mutating func restore(_ key: String, turnCount: Int, usage: AgentUsage = .none, now: Duration) {
        guard slotByKey[key] == nil else { return }
        var session = Session(key: key, createdAt: now, generation: nextGeneration)
        nextGeneration += 1
        session.turnCount = turnCount
        session.usage = usage
        insert(session, now: now)
    }

    /// Adds the turns an earlier incarnation ran (as the store counts them) to the session, if
    /// it is still the incarnation that asked. The store answers in order, before any turn of
    /// this incarnation is written, so the sum is the durable count.
    mutating func adoptStoredTurns(_ key: String, generation: UInt64, turnCount: Int, usage: AgentUsage = .none) {
        guard let slot = slotByKey[key], storage[slot].generation == generation else { return }
        storage[slot].turnCount += turnCount
        storage[slot].usage = storage[slot].usage + usage
    }

    /// Tokens a turn of the session used (a session runs its turns while in memory).
    mutating func addUsage(_ key: String, _ usage: AgentUsage) {
        guard let slot = slotByKey[key] else { return }
        storage[slot].usage = storage[slot].usage + usage
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
        while idleHead >= 0, links[idleHead].idleSince + limits.idleTimeout <= now { evict(idleHead) }
        return evictions - before
    }

    /// When the least recently active idle session expires; nil with no idle session.
    var nextExpiry: Duration? {
        idleHead >= 0 ? links[idleHead].idleSince + limits.idleTimeout : nil
    }

    /// The idle sessions' keys, least recently active first (tests).
    var idleOrder: [String] {
        var keys: [String] = []
        var slot = idleHead
        while slot >= 0 {
            keys.append(storage[slot].key)
            slot = links[slot].next
        }
        return keys
    }

    // MARK: Turn state transitions

    /// Queues a message behind the running turn; returns the queue's length.
    @discardableResult
    mutating func enqueue(_ key: String, _ item: PendingMessage) -> Int {
        modify(key) { session -> Int in
            session.pending.append(item)
            return session.pending.count
        } ?? 0
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
        modify(key) { session -> PendingMessage? in
            guard case .idle = session.state, !session.pending.isEmpty else { return nil }
            session.state = .starting
            return session.pending.removeFirst()
        } ?? nil
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
        modify(key, now: now) { session in
            if session.turn?.id == id { session.state = .idle }
        }
    }

    /// Flags the running turn (interrupted by the drain, or timed out).
    mutating func updateTurn(_ key: String, _ change: (inout RunningTurn) -> Void) {
        modify(key) { session in
            guard case .running(var turn) = session.state else { return }
            change(&turn)
            session.state = .running(turn)
        }
    }

    /// `/stop`: drops what waits; returns it (its store rows are done).
    mutating func clearPending(_ key: String, now: Duration) -> [PendingMessage] {
        modify(key, now: now) { session -> [PendingMessage] in
            defer { session.pending.removeAll() }
            return session.pending
        } ?? []
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
            storage[slot] = session
            links[slot] = Link()
        } else {
            slot = storage.count
            storage.append(session)
            links.append(Link())
        }
        slotByKey[session.key] = slot
        queued += session.pending.count
        if session.isEvictable { link(slot, now: now) } else { busySlots.insert(slot) }
    }

    /// Applies `change` to the session and keeps the queued counter and the idle list right.
    /// A session that becomes idle joins the list's tail at `now`; nil `now` is for changes
    /// that cannot make a session idle.
    @discardableResult
    private mutating func modify<R>(_ key: String, now: Duration? = nil, _ change: (inout Session) -> R) -> R? {
        guard let slot = slotByKey[key] else { return nil }
        let queuedBefore = storage[slot].pending.count
        let result = change(&storage[slot])
        queued += storage[slot].pending.count - queuedBefore
        let evictable = storage[slot].isEvictable
        if evictable != links[slot].isListed {
            if evictable {
                busySlots.remove(slot)
                link(slot, now: now ?? storage[slot].lastActive)
            } else {
                unlink(slot)
                busySlots.insert(slot)
            }
        }
        return result
    }

    private mutating func evict(_ slot: Int) {
        free(slot)
        evictions += 1
    }

    @discardableResult
    private mutating func free(_ slot: Int) -> Session {
        let session = storage[slot]
        if links[slot].isListed { unlink(slot) } else { busySlots.remove(slot) }
        queued -= session.pending.count
        slotByKey[session.key] = nil
        storage[slot] = .vacant
        freeSlots.append(slot)
        return session
    }

    /// Appends to the idle list's tail (most recently active).
    private mutating func link(_ slot: Int, now: Duration) {
        links[slot].idleSince = now
        links[slot].previous = idleTail
        links[slot].next = -1
        links[slot].isListed = true
        if idleTail >= 0 { links[idleTail].next = slot } else { idleHead = slot }
        idleTail = slot
    }

    private mutating func unlink(_ slot: Int) {
        let previous = links[slot].previous, next = links[slot].next
        if previous >= 0 { links[previous].next = next } else { idleHead = next }
        if next >= 0 { links[next].previous = previous } else { idleTail = previous }
        links[slot].previous = -1
        links[slot].next = -1
        links[slot].isListed = false
    }
}
