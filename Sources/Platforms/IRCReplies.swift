import GatewayCore
import NIOConcurrencyHelpers

/// Replies to one message: to the channel it came from, or to the person for a DM (whose nick
/// is the message's chat, checked to still be theirs before each line goes, see `IRCRecipient`).
///
/// Whether the sender is an admin (their lane, and whether a WHOIS must confirm the nick's
/// holder) is asked at the first reply, not for every message: the stranger who is not told
/// again costs no question, and a flood of them no second task hop each.
final class IRCReplies: AcknowledgedReplySink, Sendable {
    private let adapter: IRCAdapter
    private let message: InboundMessage
    private let inbound: any InboundHandler
    /// When the message came: the nick-change sequence, connection generation and time.
    private let seen: IRCRecipient.Sighting
    private let route = NIOLockedValueBox<(lane: IRCLane, recipient: IRCRecipient?)?>(nil)

    init(adapter: IRCAdapter, message: InboundMessage, inbound: any InboundHandler, seen: IRCRecipient.Sighting) {
        self.adapter = adapter
        self.message = message
        self.inbound = inbound
        self.seen = seen
    }

    var address: ChatAddress { ChatAddress(replyingTo: message) }

    /// Returns once the lines are queued; `taken` hears when the last is written.
    func deliver(_ text: String, taken: @escaping @Sendable (DeliveryFailure?) -> Void) async {
        let (lane, recipient) = await decideRoute()
        await adapter.reply(text, to: message.chat, lane: lane, recipient: recipient, taken: taken)
    }

    /// One recipient for all the replies to the message, so one WHOIS confirms them all.
    private func decideRoute() async -> (lane: IRCLane, recipient: IRCRecipient?) {
        if let known = route.withLockedValue({ $0 }) { return known }
        let admin = await inbound.isAdmin(message)
        let recipient = message.chatType == .dm
            ? IRCRecipient(nick: message.chat, hostmask: message.hostmask, account: message.account,
                           privileged: admin, seen: seen)
            : nil
        return route.withLockedValue { route in
            if let known = route { return known }
            route = (admin ? .priority : .normal, recipient)
            return route!
        }
    }
}
