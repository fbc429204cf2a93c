import AsyncHTTPClient
import GatewayCore
import JSON
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOConcurrencyHelpers

/// The client-server API (v3) calls the Matrix adapter makes: JSON requests to
/// `<homeserver>/_matrix/client/v3/...` with `Authorization: Bearer <token>`, answered with a
/// JSON object, or an error object `{"errcode": "M_...", "error": "...", "retry_after_ms": n}`.
///
/// The token is only in the header, never in a URL; every message this type produces passes
/// `redact` all the same (a homeserver may echo it), so no error, log line or health detail
/// can carry it.
package final class MatrixClientAPI: Sendable {
    private let http: PlatformHTTPClient
    /// Sends the requests instead of `http` (see `MatrixTransport`); nil in the daemon.
    private let transport: MatrixTransport?
    let base: String
    /// The token sent now (none yet: a password login makes one), and every secret to keep out
    /// of messages: the tokens used so far and the password.
    private let secrets: NIOLockedValueBox<(token: String?, hidden: [String])>
    /// The longest body taken from the homeserver (a sync of many rooms' timelines fits many times).
    static let maxResponseBytes = 32 << 20
    static let prefix = "/_matrix/client/v3"

    init(configuration: MatrixConfiguration, eventLoops: any EventLoopGroup, transport: MatrixTransport? = nil) {
        base = configuration.homeserver
        self.transport = transport
        switch configuration.credential {
        case .accessToken(let token): secrets = NIOLockedValueBox((token.text, [token.text]))
        case .password(let password): secrets = NIOLockedValueBox((nil, [password.text]))
        }
        http = PlatformHTTPClient(eventLoops: eventLoops)
    }

    /// `text` with every token and the password replaced by `<secret>`.
    func redact(_ text: String) -> String { Self.redact(text, secrets: secrets.withLockedValue { $0.hidden }) }

    /// `text` with each of `secrets` replaced by `<secret>`.
    package static func redact(_ text: String, secrets: [String]) -> String {
        secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacing($1, with: Secret.placeholder) }
    }

    /// The token to send from now on (a password login's).
    func use(token: String) {
        secrets.withLockedValue {
            $0.token = token
            $0.hidden.append(token)
        }
    }

    /// Sends no token until the next `use(token:)` (the one sent was refused).
    func forgetToken() { secrets.withLockedValue { $0.token = nil } }

    /// Whether a token is set (a password login has none before its first login).
    var hasToken: Bool { secrets.withLockedValue { $0.token != nil } }

    /// A password login (`m.login.password`) as `user`; the access token it gives.
    func login(user: String, password: String) async throws(MatrixAPIError) -> String {
        let body: JSONValue = [
            "type": "m.login.password", "identifier": ["type": "m.id.user", "user": .string(user)],
            "password": .string(password), "initial_device_display_name": .string(MatrixConfiguration.Defaults.deviceName),
        ]
        let answer: JSONValue
        do {
            answer = try await call(.POST, "/login", body: body, timeout: .seconds(30), authorized: false)
        } catch {
            if error.kind == .forbidden || error.kind == .unknownToken { throw MatrixAPIError(.loginRefused, error.message) }
            throw error
        }
        return try Self.accessToken(in: answer)
    }

    /// The token of a login's answer: one a header can carry (a CR or LF in it would have
    /// put a line of the homeserver's choosing into every request's head; the matrix fuzz
    /// target's invariant).
    package static func accessToken(in answer: JSONValue) throws(MatrixAPIError) -> String {
        guard let token = answer.object?["access_token"]?.string, !token.isEmpty else {
            throw MatrixAPIError(.malformed, "the homeserver's login answer has no access_token")
        }
        guard MatrixConfiguration.canBeToken(token.utf8) else {
            throw MatrixAPIError(.malformed, "the homeserver's login answer has an access_token with characters a token cannot have")
        }
        return token
    }

    /// One call to `path` (below `/_matrix/client/v3`, its segments already escaped with
    /// `escape`); the answer's JSON on a 2xx, otherwise a `MatrixAPIError`. `timeout` bounds
    /// the whole request (a long poll adds its own wait).
    func call(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
              timeout: Duration, authorized: Bool = true) async throws(MatrixAPIError) -> JSONValue {
        var url = base + Self.prefix + path
        if !query.isEmpty { url += "?" + query.map { "\($0)=\(Self.escape($1))" }.joined(separator: "&") }
        var request = HTTPClientRequest(url: url)
        request.method = method
        if authorized, let token = secrets.withLockedValue({ $0.token }) { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.serialized()))
        }
        let what = "\(method.rawValue) \(Self.describe(path))"
        let status: Int, bytes: [UInt8]
        do {
            let deadline = NIODeadline.now() + .seconds(Int64(timeout.components.seconds) + 1)
            (status, bytes) = if let transport { try await transport(request, deadline) } else { try await fetch(request, deadline) }
        } catch {
            if error is CancellationError || Task.isCancelled { throw MatrixAPIError(.cancelled, "cancelled") }
            throw MatrixAPIError(.network, "cannot reach the homeserver at \(base): \(redact(TelegramBotAPI.reason(error)))")
        }
        return try Self.answer(what, status: status, body: bytes, base: base, redact: redact)
    }

    /// One request through the HTTP client: the status and the body (at most `maxResponseBytes`).
    private func fetch(_ request: HTTPClientRequest, _ deadline: NIODeadline) async throws -> (status: Int, body: [UInt8]) {
        let response = try await http.client.execute(request, deadline: deadline)
        var buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
        return (Int(response.status.code), buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// What an answer to `what` (`GET /sync`) means: its JSON object on a 2xx, otherwise the
    /// error it describes, with every secret redacted from the homeserver's words. Apart from
    /// `call` so that it can be checked without a network (the matrix fuzz target feeds it any
    /// bytes).
    package static func answer(_ what: String, status: Int, body bytes: [UInt8], base: String,
                               redact: (String) -> String) throws(MatrixAPIError) -> JSONValue {
        let body = try? JSONValue.parse(bytes)
        if (200..<300).contains(status) {
            guard let body, body.object != nil else {
                throw MatrixAPIError(.malformed, "the homeserver at \(base) answered \(what) with \(status) and no JSON object")
            }
            return body
        }
        let object = body?.object
        let errcode = object?["errcode"]?.string ?? ""
        // Redacted before the cut to one line of 300 characters (cut first, a token across the
        // cut was left in part), the errcode too (it was neither redacted nor kept to one line):
        // the matrix fuzz target's findings.
        let text = Self.oneLine(redact(object?["error"]?.string ?? "no description"))
        let shownCode = Self.oneLine(redact(errcode))
        let message = "\(what): \(status) \(shownCode.isEmpty ? "" : shownCode + " ")\(text)"
        switch (status, errcode) {
        case (429, _), (_, "M_LIMIT_EXCEEDED"):
            let milliseconds = object?["retry_after_ms"]?.int ?? 1000
            let wait = min(Duration.milliseconds(max(milliseconds, 100)), MatrixConfiguration.Defaults.maxRetryAfter)
            throw MatrixAPIError(.rateLimited(retryAfter: wait), message)
        case (401, _), (_, "M_UNKNOWN_TOKEN"), (_, "M_MISSING_TOKEN"): throw MatrixAPIError(.unknownToken, message)
        case (_, "M_FORBIDDEN"): throw MatrixAPIError(.forbidden, message)
        case (let code, _) where code >= 500: throw MatrixAPIError(.http(code), message)
        case (let code, _):
            guard object != nil else {
                throw MatrixAPIError(.http(code), "the homeserver at \(base) answered \(what) with \(code) and no JSON")
            }
            throw MatrixAPIError(.http(code), message)
        }
    }

    /// Closes the client, if one was made (a call after this fails).
    func shutdown() async { await http.shutdown() }

    /// A path segment or query value percent-encoded: everything but RFC 3986's unreserved
    /// characters (room ids hold `!` and `:`, aliases `#`, event ids `$`).
    package static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    /// A path as a journal line shows it: its escapes undone where they are plain ASCII, so an
    /// operator sees `/rooms/!abc:example.org/join`.
    static func describe(_ path: String) -> String {
        path.replacing("%21", with: "!").replacing("%3A", with: ":").replacing("%23", with: "#").replacing("%24", with: "$")
            .replacing("%40", with: "@")
    }

    /// A homeserver's text as one bounded line (`PlatformHTTPClient.oneLine`).
    static func oneLine(_ text: String) -> String { PlatformHTTPClient.oneLine(text) }
}

/// Sends one request of the client-server API: its status and body, or a thrown error when the
/// homeserver was not reached. The daemon's is the HTTP client; the matrix fuzz target's answers
/// from the fuzzer's bytes, so that the adapter's handling of a sync runs without a network.
package typealias MatrixTransport = @Sendable (HTTPClientRequest, NIODeadline) async throws -> (status: Int, body: [UInt8])

/// Why a client-server API call failed, with a message that never holds the token.
package struct MatrixAPIError: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// 429 or `M_LIMIT_EXCEEDED`: wait `retryAfter` (`retry_after_ms`, capped), then call again.
        case rateLimited(retryAfter: Duration)
        /// 401, `M_UNKNOWN_TOKEN`: the token was revoked, expired or is not this homeserver's.
        case unknownToken
        /// `whoami` names another account than `user_id`.
        case wrongAccount
        /// `password_file`'s login was refused (a wrong password, or no such user).
        case loginRefused
        /// `M_FORBIDDEN`: not in the room, not allowed to post, not invited.
        case forbidden
        /// Refused, reset, timed out: try again later.
        case network
        /// Any other answer (404 room not found, 400 bad JSON, 5xx...).
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

    /// Worth sending again: the homeserver was not reached, or failed on its side.
    var isTransient: Bool {
        switch kind {
        case .network, .malformed: true
        case .http(let code): code >= 500
        default: false
        }
    }
}
