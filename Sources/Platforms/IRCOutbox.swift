import GatewayCore
import Logging
import NIOCore
import NIOConcurrencyHelpers

/// Which queue a reply waits in: admins' replies go before everyone else's.
enum IRCLane: Int, CaseIterable {
    case priority = 0
    case normal = 1
}

/// Everything the IRC adapter writes, under the flood limit. It outlives connections: a reply
/// handed over while the server is away waits (bounded) and goes out on the next connection,
/// and `stop()` can wait until it is empty.
///
/// Three kinds of lines: connection lines (registration, PONG, JOIN, WHOIS, QUIT) go first and
/// are dropped with their connection; then replies, admins' lane before the other, each lane
/// round-robin across targets and capped per target and in all (past a cap lines are dropped,
/// counted and logged, and the reply ends with a line saying so).
final class IRCOutbox: Sendable {
    struct State {
        var control = CircularBuffer<IRCMessage>()
        var lanes = [IRCLineQueue(), IRCLineQueue()]
        var writer: NIOAsyncChannelOutboundWriter<ByteBuffer>?
        var generation: UInt64 = 0
        /// Replies go out only once the server welcomed the gateway (and it joined its channels).
        var registered = false
        var tokens: Double
        var lastRefill = ContinuousClock.now
        var departures = IRCDepartures()
        var whois: [String: IRCWhois] = [:]
        /// A private reply waits for a WHOIS that the flood limit held back: the writer wakes
        /// when a token is back to ask it.
        var whoisHeldBack = false
        var wakeup: CheckedContinuation<Void, Never>?
        var wakePending = false
        var finished = false
        var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
    }

    let state: NIOLockedValueBox<State>
    private let burst: Double
    let perSecond: Double
    /// How long after its message a private reply may go without a WHOIS (see `admit`).
    let unconfirmedReplyWindow: Duration
    private let perTargetCap: Int
    private let totalCap: Int
    private let logger: Logger
    /// Lines dropped at the caps, and private-reply lines withheld because the nick's holder was
    /// not (or could not be confirmed as) the person who asked.
    let dropped = WaitableCount()
    let withheld = WaitableCount()

    init(burst: Int, perSecond: Double, logger: Logger,
         unconfirmedReplyWindow: Duration = GatewayConstants.IRC.unconfirmedReplyWindow,
         perTargetCap: Int = GatewayConstants.IRC.queuedLinesPerTarget, totalCap: Int = GatewayConstants.IRC.queuedLinesTotal) {
        self.burst = Double(burst)
        self.perSecond = perSecond
        self.unconfirmedReplyWindow = unconfirmedReplyWindow
        self.perTargetCap = perTargetCap
        self.totalCap = totalCap
        self.logger = logger
        state = NIOLockedValueBox(State(tokens: Double(burst)))
    }

    /// Lines waiting in both lanes.
    var queued: Int { state.withLockedValue { $0.lanes.reduce(0) { $0 + $1.count } } }

    // MARK: Connections

    /// A new connection: its writer, and a generation that replies made before it do not share.
    func attach(_ writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) -> UInt64 {
        let generation = state.withLockedValue { state in
            state.writer = writer
            state.generation += 1
            state.control.removeAll()
            state.registered = false
            state.tokens = burst
            state.lastRefill = .now
            state.departures.reset()
            state.whois = [:]
            return state.generation
        }
        wake()
        return generation
    }

    /// Replies may go out now (after the welcome and the JOIN).
    func markRegistered(_ generation: UInt64) {
        state.withLockedValue { if $0.generation == generation { $0.registered = true } }
        wake()
    }

    /// The connection ended: its own lines go with it; replies stay for the next one.
    func detach(_ generation: UInt64) {
        state.withLockedValue { state in
            guard state.generation == generation else { return }
            state.writer = nil
            state.registered = false
            state.control.removeAll()
            state.whois = [:]
        }
    }

    var isConnected: Bool { state.withLockedValue { $0.writer != nil } }

    /// A connection line (registration, PONG, JOIN, WHOIS, QUIT): out next, ahead of replies.
    func sendControl(_ message: IRCMessage) {
        state.withLockedValue { if $0.writer != nil { $0.control.append(message) } }
        wake()
    }

    // MARK: Replies

    /// Queues the PRIVMSGs of one reply. Returns how many were dropped at the caps (then the
    /// last queued line says so).
    @discardableResult
    func enqueue(_ parts: [String], to target: String, lane: IRCLane, recipient: IRCRecipient?,
                 taken: (@Sendable (DeliveryFailure?) -> Void)? = nil) -> Int {
        guard !parts.isEmpty else {
            taken?(nil)
            return 0
        }
        let key = IRCCasemapping.fold(target)
        var countdown: DeliveryCountdown?
        let (queued, lost, total, finished) = state.withLockedValue { state -> (Int, Int, Int, Bool) in
            guard !state.finished else { return (0, parts.count, 0, true) }
            let queue = state.lanes[lane.rawValue]
            let room = max(0, min(perTargetCap - queue.count(for: key), totalCap - queue.count))
            let accepted: [String]
            var lost = 0
            if parts.count <= room {
                accepted = parts
            } else if room > 1 {
                lost = parts.count - (room - 1)
                accepted = parts.prefix(room - 1) + [GatewayText.ircLinesDropped(lost)]
            } else {
                lost = parts.count
                accepted = []
            }
            if let taken, !accepted.isEmpty { countdown = DeliveryCountdown(parts: accepted.count, done: taken) }
            for part in accepted {
                state.lanes[lane.rawValue].append(
                    IRCQueuedLine(message: IRCMessage(command: "PRIVMSG", parameters: [target, part]), recipient: recipient,
                                  taken: countdown), key: key)
            }
            return (accepted.count, lost, state.lanes[lane.rawValue].count, false)
        }
        if queued == 0 {
            // A stopped outbox: a later start sends it. A full one: sending again would flood.
            taken?(finished ? DeliveryFailure(.unreachable, "the IRC adapter has stopped", certainlyUnsent: true)
                            : DeliveryFailure(.refused, "the IRC outgoing queue is full"))
        }
        if lost > 0 {
            dropped.add(lost)
            logger.warning("IRC: \(lost) line(s) to \(target) dropped: the outgoing queue is full (\(total) waiting, at most \(perTargetCap) per target and \(totalCap) in all); \(dropped.value) dropped so far", metadata: [
                "event": "irc_queue_full", "platform": "irc", "dropped": "\(lost)", "dropped_total": "\(dropped.value)",
            ])
        }
        if queued > 0 { wake() }
        return lost
    }

    /// The sequence number of the last nick change seen: a reply compares against it.
    var departureSequence: UInt64 { state.withLockedValue { $0.departures.sequence } }
    var generation: UInt64 { state.withLockedValue { $0.generation } }

    /// The nick changed hands (NICK from or onto it, QUIT, ACCOUNT).
    func noteDeparture(_ nick: String) {
        state.withLockedValue { $0.departures.depart(IRCCasemapping.fold(nick)) }
    }

    /// Returns once no reply waits (true) or at `deadline` (false).
    func flush(until deadline: ContinuousClock.Instant) async -> Bool {
        let id = state.withLockedValue { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let timer = Task {
            guard (try? await Task.sleep(until: deadline)) != nil else { return }
            self.resumeIdleWaiter(id)
        }
        await withCheckedContinuation { continuation in
            let now = state.withLockedValue { state in
                if state.lanes.allSatisfy(\.isEmpty) || ContinuousClock.now >= deadline { return true }
                state.idleWaiters[id] = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
        return state.withLockedValue { $0.lanes.allSatisfy(\.isEmpty) }
    }

    private func resumeIdleWaiter(_ id: Int) {
        state.withLockedValue { $0.idleWaiters.removeValue(forKey: id) }?.resume()
    }

    /// Ends the writer; what still waits is dropped (see `discardQueued`).
    func finish() {
        let waiters = state.withLockedValue { state in
            state.finished = true
            defer { state.idleWaiters = [:] }
            return Array(state.idleWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
        wake()
    }

    /// Empties both lanes, once the writer has ended: what `stop()` could not send in time.
    /// Returns how many lines and how many targets they were for.
    /// Their replies stay in the ledger, for the next start.
    func discardQueued() -> (lines: Int, targets: Int) {
        let (lines, targets) = state.withLockedValue { state in
            let targets = state.lanes.reduce(0) { $0 + $1.targets }
            let lines = state.lanes.indices.flatMap { state.lanes[$0].removeAll() }
            return (lines, targets)
        }
        let failure = DeliveryFailure(.unreachable, "still queued when the IRC adapter stopped", certainlyUnsent: true)
        for line in lines { line.taken?.failed(failure) }
        return (lines.count, targets)
    }

    // MARK: The writer

    private enum Step {
        case write(ByteBuffer, NIOAsyncChannelOutboundWriter<ByteBuffer>, IRCQueuedLine?, IRCLane)
        case wait(ContinuousClock.Instant?)
        case finish
    }

    /// Writes lines until `finish()`. One task per adapter, for all its connections.
    func run() async {
        while true {
            var dropped: [IRCQueuedLine] = [], unsendable: [IRCQueuedLine] = []
            let (step, idle) = state.withLockedValue { state in
                let step = nextStep(&state, dropped: &dropped, unsendable: &unsendable)
                var idle: [CheckedContinuation<Void, Never>] = []
                if state.lanes.allSatisfy(\.isEmpty) {
                    idle = Array(state.idleWaiters.values)
                    state.idleWaiters = [:]
                }
                return (step, idle)
            }
            for waiter in idle { waiter.resume() }
            reportWithheld(dropped)
            for line in unsendable { line.taken?.failed(DeliveryFailure(.refused, "the line cannot be sent on IRC")) }
            switch step {
            case .finish:
                return
            case .wait(let deadline):
                await waitForWake(until: deadline)
            case .write(let bytes, let writer, let line, let lane):
                do {
                    try await writer.write(bytes)
                    line?.taken?.taken()
                } catch {
                    // The connection is gone: the line waits for the next one.
                    if let line, let target = line.message.parameters.first {
                        state.withLockedValue { $0.lanes[lane.rawValue].putBack(line, key: IRCCasemapping.fold(target)) }
                    }
                }
            }
        }
    }

    private func nextStep(_ state: inout State, dropped: inout [IRCQueuedLine], unsendable: inout [IRCQueuedLine]) -> Step {
        steps: while true {
            if state.finished { return .finish }
            guard let writer = state.writer else { return .wait(nil) }
            if let message = state.control.popFirst() {
                guard let bytes = encode(message) else { continue }
                return .write(bytes, writer, nil, .priority)
            }
            guard state.registered else { return .wait(nil) }
            let now = ContinuousClock.now
            let whoisDeadline = expireWhois(&state, now: now)
            if state.lanes.allSatisfy(\.isEmpty) { return .wait(whoisDeadline) }
            refill(&state, now: now)
            if state.tokens < 1 {
                let wait = (1 - state.tokens) / perSecond
                return .wait(now + .nanoseconds(Int64(wait * 1e9) + 1))
            }
            for lane in IRCLane.allCases {
                // Taken out while `admit` changes the rest of the state (no copy: the slot is emptied).
                var queue = state.lanes[lane.rawValue]
                state.lanes[lane.rawValue] = IRCLineQueue()
                let admitted = queue.next(dropped: &dropped) { line in admit(line, lane, &state, now: now) }
                state.lanes[lane.rawValue] = queue
                guard let line = admitted else { continue }
                guard let bytes = encode(line.message) else {
                    // Told after the lock is released, with the withheld ones (see `run`).
                    unsendable.append(line)
                    continue steps
                }
                state.tokens -= 1
                return .write(bytes, writer, line, lane)
            }
            // Everything waits for a WHOIS (just asked, then it is in `control`) or was dropped.
            if state.control.isEmpty {
                guard state.whoisHeldBack else { return .wait(whoisDeadline) }
                state.whoisHeldBack = false
                let refilled = now + .nanoseconds(Int64(max(0, 1 - state.tokens) / perSecond * 1e9) + 1)
                return .wait(min(whoisDeadline ?? refilled, refilled))
            }
        }
    }

    private func refill(_ state: inout State, now: ContinuousClock.Instant) {
        let elapsed = now - state.lastRefill
        state.lastRefill = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.tokens = min(burst, state.tokens + perSecond * seconds)
    }

    private func encode(_ message: IRCMessage) -> ByteBuffer? {
        do {
            return try message.encoded()
        } catch {
            logger.error("IRC: a line was not sent: \(error)", metadata: ["event": "irc_line_refused", "platform": "irc"])
            return nil
        }
    }

    private func reportWithheld(_ lines: [IRCQueuedLine]) {
        guard !lines.isEmpty else { return }
        let failure = DeliveryFailure(.refused, "withheld: the nick is not, or could not be confirmed to be, held by the person who asked")
        for line in lines { line.taken?.failed(failure) }
        withheld.add(lines.count)
        for (nick, count) in Dictionary(lines.map { ($0.recipient?.nick ?? "", 1) }, uniquingKeysWith: +) {
            logger.notice("IRC: a private reply to \(nick) was withheld: the nick is not, or could not be confirmed to be, held by the person who asked (\(count) line(s))", metadata: [
                "event": "irc_reply_withheld", "platform": "irc", "chat": "\(nick)",
            ])
        }
    }

    // MARK: Waking the writer

    func wake() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.wakeup {
                state.wakeup = nil
                return waiter
            }
            state.wakePending = true
            return nil
        }
        waiter?.resume()
    }

    private func waitForWake(until deadline: ContinuousClock.Instant?) async {
        let timer = deadline.map { deadline in
            Task {
                guard (try? await Task.sleep(until: deadline)) != nil else { return }
                self.wake()
            }
        }
        await withCheckedContinuation { continuation in
            let now = state.withLockedValue { state in
                if state.wakePending {
                    state.wakePending = false
                    return true
                }
                state.wakeup = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer?.cancel()
    }
}
