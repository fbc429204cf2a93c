import GatewayCore
import Logging

/// Replies with no request waiting for them. The local platform has no chat to write to: the
/// reply is in the journal (`GATEWAY_EVENT=reply`) and on `gatewayctl events`. Other platforms'
/// adapters take theirs when they exist.
struct DaemonOutbox: ChatOutbox {
    let logger: Logger

    func send(_ text: String, to chat: ChatAddress) async {
        guard chat.platform != GatewayConstants.localPlatform else { return }
        logger.warning("no adapter for platform \(chat.platform); a reply to \(chat.chat) was not delivered", metadata: [
            "event": "reply_undelivered", "platform": "\(chat.platform)", "chat": "\(chat.chat)",
        ])
    }
}
