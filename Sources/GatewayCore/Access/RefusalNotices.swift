/// Remembers which strangers were told "not allowed" lately, so each is told at most once per
/// `interval`: a stranger who keeps writing (or a thousand of them) cannot fill the platform's
/// outgoing queue with refusals ahead of everyone else's replies.
///
/// Bounded: at most `capacity` senders are remembered; past it the one told longest ago is
/// forgotten (and may be told again: one more line, never more memory).
package struct RefusalNotices: Sendable {
    package let interval: Duration
    package let capacity: Int
    /// When each remembered sender was last told.
    private var toldAt: [String: Duration] = [:]
    /// (sender, when) in the order told; an entry whose time no longer matches `toldAt` is stale.
    private var order: [(sender: String, at: Duration)] = []
    private var head = 0

    package init(interval: Duration = GatewayConstants.refusalNoticeInterval,
                capacity: Int = GatewayConstants.refusalNoticeMemory) {
        precondition(capacity > 0)
        self.interval = interval
        self.capacity = capacity
    }

    /// How many senders are remembered now.
    package var count: Int { toldAt.count }

    /// True (and remembered) when `sender` should be told now.
    package mutating func shouldTell(_ sender: String, now: Duration) -> Bool {
        if let last = toldAt[sender], now - last < interval { return false }
        while toldAt.count >= capacity || (head < order.count && now - order[head].at >= interval) {
            forgetOldest()
        }
        toldAt[sender] = now
        order.append((sender, now))
        return true
    }

    private mutating func forgetOldest() {
        guard head < order.count else { return }
        let oldest = order[head]
        head += 1
        if toldAt[oldest.sender] == oldest.at { toldAt[oldest.sender] = nil }
        // Compact once half the array is behind the head, so it never grows past 2 x capacity.
        if head > capacity {
            order.removeFirst(head)
            head = 0
        }
    }
}
