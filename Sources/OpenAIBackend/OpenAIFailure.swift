/// Why one attempt at an endpoint failed, with what the chat and the journal are told.
/// `retryable` failures are tried again on the same endpoint (with backoff) before the next one.
struct OpenAIFailure: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: String, Sendable, Equatable {
        /// 401/403: the key is wrong; no retry on this endpoint (it would not get better).
        case auth
        /// 429: waits `Retry-After` (capped) before the next attempt.
        case rateLimited = "rate_limited"
        /// 5xx.
        case server
        /// Any other 4xx (an unknown model, a prompt too long): the request itself is wrong here.
        case rejected
        /// Refused, reset, unreachable, TLS: nothing or not all of the answer arrived.
        case connection
        /// No byte for `request_timeout`.
        case stalled
        /// Not SSE, not JSON, an error event inside the stream, or a stream that ends without `[DONE]`.
        case malformed
        /// Every endpoint's breaker is open: not even tried.
        case unavailable
    }

    let kind: Kind
    /// For the chat and the journal: single line, no secrets.
    let message: String
    /// 429's `Retry-After` (at most a day; see `waitsTooLong`).
    var retryAfter: Duration?

    /// The server asks for a wait past `maxRetryAfter`: the next endpoint, not a retry.
    var waitsTooLong: Bool { retryAfter.map { $0 > Self.maxRetryAfter } ?? false }

    var retryable: Bool {
        switch kind {
        case .rateLimited, .server, .connection, .stalled, .malformed: true
        case .auth, .rejected, .unavailable: false
        }
    }

    /// The server answered and refused this request as wrong (400, 413, 422: a prompt over the
    /// context, say), which says nothing against the server: not counted by its breaker.
    var requestFault = false

    var description: String { message }

    /// Longest honoured `Retry-After`: a longer one moves on to the next endpoint instead.
    static let maxRetryAfter: Duration = .seconds(30)
}
