import GatewayCore
import NIOCore

/// One PRIVMSG waiting to go out, with the person it is for when it is a private reply.
struct IRCQueuedLine {
    let message: IRCMessage
    let recipient: IRCRecipient?
    /// Told when the line is written, withheld or dropped (the ledger's acknowledgement).
    var taken: DeliveryCountdown? = nil
}

/// Lines waiting per target, taken round-robin across targets so that one long reply does not
/// hold back everyone else's; counted per target and in all, for the caps.
struct IRCLineQueue {
    /// What the writer does with the first line waiting for a target.
    enum Admission { case send, drop, wait }

    private var byTarget: [String: CircularBuffer<IRCQueuedLine>] = [:]
    /// Targets with lines, in turn.
    private var turns = CircularBuffer<String>()
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }
    /// Targets with lines waiting.
    var targets: Int { byTarget.count }

    func count(for key: String) -> Int { byTarget[key]?.count ?? 0 }
    /// Lines waiting for the target with the most.
    var longest: Int { byTarget.values.map(\.count).max() ?? 0 }

    mutating func append(_ line: IRCQueuedLine, key: String) { insert(line, key: key, atFront: false) }

    /// Every line, emptied (what a stop could not send).
    mutating func removeAll() -> [IRCQueuedLine] {
        defer { self = IRCLineQueue() }
        return turns.flatMap { byTarget[$0].map(Array.init) ?? [] }
    }

    /// Puts a line back at the front of its target (its write failed with the connection).
    mutating func putBack(_ line: IRCQueuedLine, key: String) { insert(line, key: key, atFront: true) }

    private mutating func insert(_ line: IRCQueuedLine, key: String, atFront: Bool) {
        if byTarget[key] == nil {
            byTarget[key] = CircularBuffer(initialCapacity: 4)
            if atFront { turns.prepend(key) } else { turns.append(key) }
        }
        if atFront { byTarget[key]!.prepend(line) } else { byTarget[key]!.append(line) }
        count += 1
    }

    /// The next line `admit` lets go, visiting each target at most once; dropped lines go to
    /// `dropped`. A target whose first line must wait keeps its turn for the next call.
    mutating func next(dropped: inout [IRCQueuedLine], _ admit: (IRCQueuedLine) -> Admission) -> IRCQueuedLine? {
        var visited = 0
        let targets = turns.count
        while visited < targets, let key = turns.popFirst() {
            visited += 1
            while let line = byTarget[key]?.first {
                switch admit(line) {
                case .drop:
                    byTarget[key]!.removeFirst()
                    count -= 1
                    dropped.append(line)
                    continue
                case .wait:
                    turns.append(key)
                case .send:
                    byTarget[key]!.removeFirst()
                    count -= 1
                    if byTarget[key]!.isEmpty { byTarget[key] = nil } else { turns.append(key) }
                    return line
                }
                break
            }
            if byTarget[key]?.isEmpty == true { byTarget[key] = nil }
        }
        return nil
    }
}
