/// Where an adapter keeps its position in a platform's stream of updates (Telegram's `offset`,
/// Matrix's `since`), so that what arrived while gatewayd was down is read after it starts,
/// and what it already took is not read twice.
///
/// An adapter stores a position only once every message before it was taken by the dispatcher
/// (see `InboundReceipt`): agent-bound ones are then in the durable queue.
package protocol PlatformCursorStore: AnyObject, Sendable {
    /// The position last stored under `key` (`telegram:<bot id>`), nil when none was.
    func cursor(for key: String) async throws(StoreError) -> String?
    /// Stores `value` under `key`; it is durable once this returns.
    func setCursor(_ value: String, for key: String) async throws(StoreError)
}
