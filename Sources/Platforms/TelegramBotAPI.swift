import AsyncHTTPClient
import GatewayCore
import JSON
import NIOCore
import NIOHTTP1
import NIOPosix

/// The Bot API calls the adapter makes (`getMe`, `getUpdates`, `sendMessage`,
/// `editMessageText`): JSON POSTs to `<api_base>/bot<token>/<method>`, answered with
/// `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description", "parameters"}`.
///
/// The token is in every URL's path: every message this type produces passes `redact` first,
/// so no error, log line or health detail can carry it.
package final class TelegramBotAPI: Sendable {
    private let http: PlatformHTTPClient
    private let base: String
    private let token: String
    /// The longest body taken from the server (100 updates of 4096-character messages fit many times).
    static let maxResponseBytes = 16 << 20

    init(configuration: TelegramConfiguration, eventLoops: any EventLoopGroup) {
        base = configuration.apiBase
        token = configuration.token.text
        http = PlatformHTTPClient(eventLoops: eventLoops)
    }

    /// `text` with the token (and so `bot<token>`) replaced by `<token>`.
    func redact(_ text: String) -> String { Self.redact(text, token: token) }

    /// `text` with `token` replaced by `<token>`, and so is its secret (what follows the bot's
    /// id and its colon) where it stands alone: a server or a proxy in `api_base` that echoes the
    /// secret without the id must not get it into an error, a log line or the health detail
    /// either (the telegram fuzz target's finding).
    package static func redact(_ text: String, token: String) -> String {
        guard !token.isEmpty else { return text }
        var text = text.replacing(token, with: "<token>")
        if let colon = token.firstIndex(of: ":") {
            let secret = token[token.index(after: colon)...]
            if secret.count >= 8 { text = text.replacing(secret, with: "<token>") }
        }
        return text
    }

    /// One call; the `result` on success, otherwise a `TelegramAPIError`. `timeout` bounds the
    /// whole request (a long poll adds its own wait).
    func call(_ method: String, _ parameters: [String: JSONValue], timeout: Duration) async throws(TelegramAPIError) -> JSONValue {
        var request = HTTPClientRequest(url: "\(base)/bot\(token)/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: JSONValue.object(parameters).serialized()))
        let bytes: [UInt8], status: HTTPResponseStatus
        do {
            let seconds = Int64(timeout.components.seconds) + 1
            let response = try await http.client.execute(request, deadline: .now() + .seconds(seconds))
            status = response.status
            var buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
            bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            if error is CancellationError || Task.isCancelled { throw TelegramAPIError(.cancelled, "cancelled") }
            throw TelegramAPIError(.network, "cannot reach the Bot API at \(base): \(redact(Self.reason(error)))")
        }
        return try Self.result(of: method, status: Int(status.code), body: bytes, base: base, redact: redact)
    }

    /// What an answer means: the `result` of `{"ok": true, ...}`, otherwise the error it
    /// describes (with the token redacted from the server's text). Apart from `call` so that it
    /// can be checked without a network (the telegram fuzz target feeds it any bytes).
    package static func result(of method: String, status: Int, body bytes: [UInt8], base: String,
                               redact: (String) -> String) throws(TelegramAPIError) -> JSONValue {
        guard let body = try? JSONValue.parse(bytes), let object = body.object else {
            throw TelegramAPIError(status == 200 ? .malformed : .http(status),
                                   "the Bot API at \(base) answered \(method) with \(status) and no JSON")
        }
        if object["ok"]?.bool == true, let result = object["result"] { return result }
        let code = object["error_code"]?.int.map(Int.init) ?? status
        // Redacted before the cut to one line of 300 characters: cut first, a token across the
        // cut was left in part (the fuzz target's other finding).
        let description = oneLine(redact(object["description"]?.string ?? "no description"))
        let parameters = object["parameters"]?.object
        switch code {
        case 429:
            let wait = parameters?["retry_after"]?.int ?? 1
            throw TelegramAPIError(.rateLimited(retryAfter: .seconds(max(1, min(wait, 3600)))), "\(method): \(description)")
        case 409: throw TelegramAPIError(.conflict, "\(method): \(description)")
        case 401: throw TelegramAPIError(.unauthorized, "\(method): \(description)")
        // Telegram answers a token of no bot with 404 as well.
        case 404 where method == "getMe": throw TelegramAPIError(.unauthorized, "\(method): \(description)")
        default: throw TelegramAPIError(.http(code), "\(method): \(code) \(description)")
        }
    }

    /// Closes the client, if one was made (a call after this fails).
    func shutdown() async { await http.shutdown() }

    /// "connection refused": the system's words, not NIO's dump.
    static func reason(_ error: any Error) -> String {
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout: return "timed out"
            case .connectTimeout: return "connect timed out"
            default: break
            }
        }
        if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first { return reason(first.error) }
        if let io = error as? IOError { return io.description }
        return oneLine(String(describing: error))
    }

    private static func oneLine(_ text: String) -> String { PlatformHTTPClient.oneLine(text) }

}

/// Why a Bot API call failed, with a message that never holds the token.
package struct TelegramAPIError: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// 429: wait `retryAfter` (the server's `parameters.retry_after`), then call again.
        case rateLimited(retryAfter: Duration)
        /// 409: another process polls `getUpdates` with this token (or a webhook is set).
        case conflict
        /// 401 (or 404 for `getMe`): the token is not a bot's.
        case unauthorized
        /// Refused, reset, timed out: try again later.
        case network
        /// Any other answer (400 chat not found, 403 blocked by the user, 5xx...).
        case http(Int)
        case malformed
        case cancelled
    }

    package let kind: Kind
    package let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }

    /// Worth sending again: the server was not reached, or failed on its side.
    var isTransient: Bool {
        switch kind {
        case .network, .malformed: true
        case .http(let code): code >= 500
        default: false
        }
    }
}
