import GatewayCore
import Logging

/// Replies with no request waiting for them, handed to the chat's platform adapter (split at
/// its limit). The local platform has no chat to write to: the reply is in the journal
/// (`GATEWAY_EVENT=reply`) and on `gatewayctl events`.
struct DaemonOutbox: ChatOutbox {
    let logger: Logger
    let adapters: [any PlatformAdapter]

    func send(_ text: String, to chat: ChatAddress) async {
        guard chat.platform != GatewayConstants.localPlatform else { return }
        guard let adapter = adapters.first(where: { $0.name == chat.platform }) else {
            logger.warning("no adapter for platform \(chat.platform); a reply to \(chat.chat) was not delivered", metadata: [
                "event": "reply_undelivered", "platform": "\(chat.platform)", "chat": "\(chat.chat)",
            ])
            return
        }
        do {
            for part in ReplySplitter.split(text, maxBytes: adapter.maxMessageBytes) { try await adapter.send(part, to: chat) }
        } catch {
            logger.warning("reply to \(chat.platform):\(chat.chat) not delivered: \(error)", metadata: [
                "event": "reply_undelivered", "platform": "\(chat.platform)", "chat": "\(chat.chat)",
            ])
        }
    }
}
