import Synchronization

/// One queue of deliveries per chat, each run in order by a task that exists only while its
/// queue has work. Once a reply is in the ledger the ledger answers for it: the turn that made
/// it goes on (and its message leaves the durable queue) while the platform takes its time
/// (a 429's wait, a flood limit), and the chat's replies still arrive in the order they were made.
package final class DeliveryLanes: Sendable {
    private struct Lane {
        var work: [@Sendable () async -> Void] = []
    }

    private let lanes = Mutex<[String: Lane]>([:])

    package init() {}

    /// Chats with deliveries waiting or under way.
    package var active: Int { lanes.withLock { $0.count } }

    /// Runs `work` after everything enqueued before it for `chat`.
    package func enqueue(_ chat: String, _ work: @escaping @Sendable () async -> Void) {
        let start = lanes.withLock { lanes -> Bool in
            if lanes[chat] != nil {
                lanes[chat]!.work.append(work)
                return false
            }
            lanes[chat] = Lane()
            return true
        }
        guard start else { return }
        Task {
            await work()
            while let next = self.next(chat) { await next() }
        }
    }

    /// The lane's next work, or nil after removing the empty lane.
    private func next(_ chat: String) -> (@Sendable () async -> Void)? {
        lanes.withLock { lanes in
            guard var lane = lanes[chat], !lane.work.isEmpty else {
                lanes[chat] = nil
                return nil
            }
            let work = lane.work.removeFirst()
            lanes[chat] = lane
            return work
        }
    }
}
