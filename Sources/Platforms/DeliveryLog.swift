import GatewayCore
import NIOCore
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// What a webhook delivery is remembered by.
enum DeliveryKey: Hashable, Sendable {
    /// The sender's `id`: its retry (same id, a new timestamp and so a new signature) gets the
    /// first answer.
    case id(String)
    /// The signature of a timestamped delivery: a replay of the captured request (same
    /// timestamp, same body, so the same signature) is recognised whatever its `id`, or without one.
    case signature(SignatureDigest)
}

/// The 32 bytes of an HMAC-SHA256, held inline (a remembered signature costs no allocation).
struct SignatureDigest: Hashable, Sendable {
    private let a, b, c, d: UInt64

    init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32, "an HMAC-SHA256 is 32 bytes")
        func word(_ start: Int) -> UInt64 { bytes[start..<start + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        (a, b, c, d) = (word(0), word(8), word(16), word(24))
    }
}

/// What `DeliveryLog.claim` decided.
enum DeliveryClaim: Equatable, Sendable {
    /// The first of its kind: the caller works it out and calls `answer`.
    case first
    /// Seen before: this is the first one's answer (awaited if it was still being worked out).
    case earlier([UInt8])
    /// A replayed signature whose answer is no longer kept, or a timestamp older than the
    /// oldest signature still remembered: refused, with the reason for the sender.
    case refused(String)
}

/// Answers already given (or being worked out) by delivery id or signature, and the signatures
/// of timestamped deliveries for as long as their timestamp is inside the replay window.
///
/// Two memories, each bounded:
/// - **Answers**, for `window` (10 minutes) after they are given: a retry or a replay within it
///   gets the first answer again, without a second dispatch. Only answered entries expire: one
///   still being worked out has waiters (retries) that its answer must reach. At most
///   `maxAnswerBytes` of answers are kept; past it the oldest is forgotten early.
/// - **Signatures** of timestamped deliveries, until their timestamp leaves `replayWindow` (up
///   to 30 days; after that the signature check refuses a replay by itself). A replay of one
///   whose answer was forgotten is refused, never dispatched again. At most `maxSignatures` are
///   kept: past it the oldest is forgotten and its timestamp becomes a floor, so that every
///   delivery stamped at or before it is refused. Replays stay impossible; what the bound costs
///   is that, under a flood of genuine deliveries, a late one must be sent again with a new
///   timestamp.
final class DeliveryLog: Sendable {
    private enum Entry {
        case working([CheckedContinuation<DeliveryClaim, Never>])
        case answered([UInt8])
    }

    private struct State {
        var entries: [DeliveryKey: Entry] = [:]
        /// Answered keys, oldest answer first.
        var expiry: CircularBuffer<(key: DeliveryKey, at: ContinuousClock.Instant, bytes: Int)> = []
        var answerBytes = 0
        var signatures: Set<SignatureDigest> = []
        /// Remembered signatures in the order they came, with their timestamps.
        var signatureOrder: CircularBuffer<(digest: SignatureDigest, timestamp: Int64)> = []
        /// Deliveries stamped at or before this are refused (see the type's comment).
        var floor = Int64.min
        /// Seconds; a reload may change it (`setReplayWindow`).
        var replayWindow: Int64
    }

    private let state: NIOLockedValueBox<State>
    private let window: Duration
    private let maxAnswerBytes: Int
    private let maxSignatures: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private let wallClock: @Sendable () -> Int64

    static let defaultMaxAnswerBytes = 32 << 20
    static let defaultMaxSignatures = 65_536

    init(window: Duration = WebhookConfiguration.deduplicationWindow,
         replayWindow: Duration = WebhookConfiguration.Defaults.replayWindow,
         maxAnswerBytes: Int = defaultMaxAnswerBytes, maxSignatures: Int = defaultMaxSignatures,
         now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
         wallClock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) {
        self.window = window
        state = NIOLockedValueBox(State(replayWindow: replayWindow.components.seconds))
        self.maxAnswerBytes = maxAnswerBytes
        self.maxSignatures = maxSignatures
        self.now = now
        self.wallClock = wallClock
    }

    /// Decides, in one critical section, whether `key` is new; for a retry still being worked
    /// out it registers the waiter there, so nothing can expire in between. `timestamp` is the
    /// signed timestamp of a `.signature` key.
    func claim(_ key: DeliveryKey, timestamp: Int64? = nil) async -> DeliveryClaim {
        await withCheckedContinuation { (continuation: CheckedContinuation<DeliveryClaim, Never>) in
            let decided: DeliveryClaim? = state.withLockedValue { state in
                let wall = wallClock()
                expire(&state, wall: wall)
                switch state.entries[key] {
                case .answered(let body)?:
                    return .earlier(body)
                case .working(var waiters)?:
                    waiters.append(continuation)
                    state.entries[key] = .working(waiters)
                    return nil
                case nil:
                    break
                }
                if case .signature(let digest) = key, let timestamp {
                    // Checked again here, not only at the head: a body trickled in for up to
                    // the body timeout could otherwise arrive once its signature was forgotten.
                    if abs(wall - timestamp) > state.replayWindow {
                        return .refused("its timestamp left the replay window while the delivery was being received; send it again with a new timestamp")
                    }
                    if state.signatures.contains(digest) {
                        return .refused("this delivery was answered before and its answer is no longer kept (\(Self.minutes(window)) at most); a replay of it is not answered again")
                    }
                    if timestamp <= state.floor {
                        return .refused("too many deliveries within the replay window to remember this one's signature; send it again with a new timestamp")
                    }
                    remember(digest, timestamp, &state)
                }
                state.entries[key] = .working([])
                return .first
            }
            if let decided { continuation.resume(returning: decided) }
        }
    }

    /// Gives every key its answer and wakes the retries waiting for it.
    func answer(_ keys: [DeliveryKey], _ body: [UInt8]) {
        let time = now()
        let waiters: [CheckedContinuation<DeliveryClaim, Never>] = state.withLockedValue { state in
            var waiters: [CheckedContinuation<DeliveryClaim, Never>] = []
            for key in keys {
                guard case .working(let waiting)? = state.entries[key] else { continue }
                waiters += waiting
                state.entries[key] = .answered(body)
                state.expiry.append((key, time, body.count))
                state.answerBytes += body.count
            }
            while state.answerBytes > maxAnswerBytes, let oldest = state.expiry.popFirst() {
                forgetAnswer(oldest, &state)
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: .earlier(body)) }
    }

    /// Retries of `key` waiting for its first answer (for tests).
    func waiters(_ key: DeliveryKey) -> Int {
        state.withLockedValue { state in
            if case .working(let waiters)? = state.entries[key] { waiters.count } else { 0 }
        }
    }

    /// A reload's `replay_window`. Widened, every delivery stamped before the old window's
    /// start is refused from now on: signatures older than the old window were forgotten, and
    /// the wider window must not let their replays back in.
    func setReplayWindow(_ duration: Duration) {
        let seconds = duration.components.seconds
        state.withLockedValue { state in
            if seconds > state.replayWindow { state.floor = max(state.floor, wallClock() - state.replayWindow) }
            state.replayWindow = seconds
        }
    }

    /// Signatures remembered (for tests).
    var rememberedSignatures: Int { state.withLockedValue { $0.signatures.count } }

    private func remember(_ digest: SignatureDigest, _ timestamp: Int64, _ state: inout State) {
        state.signatures.insert(digest)
        state.signatureOrder.append((digest, timestamp))
        while state.signatureOrder.count > maxSignatures, let oldest = state.signatureOrder.popFirst() {
            state.signatures.remove(oldest.digest)
            state.floor = max(state.floor, oldest.timestamp)
        }
    }

    private func forgetAnswer(_ entry: (key: DeliveryKey, at: ContinuousClock.Instant, bytes: Int), _ state: inout State) {
        state.answerBytes -= entry.bytes
        state.entries[entry.key] = nil
    }

    private func expire(_ state: inout State, wall: Int64) {
        let time = now()
        while let oldest = state.expiry.first, time - oldest.at > window {
            forgetAnswer(state.expiry.removeFirst(), &state)
        }
        // Arrival order is nearly timestamp order; one stamped later than its successors only
        // holds them a little longer.
        while let oldest = state.signatureOrder.first, wall - oldest.timestamp > state.replayWindow {
            state.signatureOrder.removeFirst()
            state.signatures.remove(oldest.digest)
        }
    }

    private static func minutes(_ duration: Duration) -> String {
        let minutes = duration.components.seconds / 60
        return minutes == 1 ? "1 minute" : "\(minutes) minutes"
    }
}
