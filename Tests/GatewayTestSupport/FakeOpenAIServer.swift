import Foundation
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// An OpenAI-compatible chat completions server on loopback that does what a real one will not
/// do on demand: refuse the key, rate limit, fail, stall mid-stream, reset, send malformed
/// events, answer slowly. It speaks the real wire format (HTTP/1.1 with keep-alive, chunked
/// `text/event-stream`, `data:` events, `[DONE]`), one thread per connection, blocking sockets.
///
/// Each request takes the next scripted `Reply` (or `defaultReply` when none is left) and is
/// recorded; a client closing its connection is recorded too, so a test can see that an
/// interrupt really cut the request.
public final class FakeOpenAIServer: @unchecked Sendable {
    public enum Reply: Sendable {
        /// A complete streamed answer: one chunk per delta, `gap` between them, then the
        /// finish chunk, usage and `[DONE]`. `crlf` ends lines with CRLF; `comments` adds
        /// `: keep-alive` lines between events.
        case stream([String], usage: (Int, Int)? = (7, 3), gap: Duration = .zero, crlf: Bool = false, comments: Bool = false)
        /// A plain response (401, 429 with Retry-After, 500 ...) with a JSON error body.
        case status(Int, headers: [(String, String)] = [], message: String = "fake failure")
        /// Streams these deltas, then sends nothing more and waits until the client closes.
        case hold([String])
        /// Streams these deltas, then resets the connection (RST).
        case reset([String])
        /// Sends these bytes as the body of a `text/event-stream` response, then ends it.
        case rawEvents(String)
        /// A complete answer as one JSON completion (a server that ignores `stream: true`).
        case whole(String)
        /// Streams `before`, waits until the test opens `gate`, then streams `after` and ends:
        /// proof that what came before reached the chat while the answer was still being made.
        case gated(before: [String], gate: Gate, after: [String])
        /// Waits this long before the response head, then plays the reply.
        indirect case delayed(Duration, Reply)
        /// Sends these bytes as they are (head and body, whatever framing they claim), then
        /// closes the connection: redirects, HTTP/1.0 bodies, bodies cut mid-chunk, odd heads.
        case raw([UInt8])
    }

    /// Opened once by the test; a `gated` reply waits for it (at most 30 s).
    public final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        public init() {}
        public func open() { semaphore.signal() }
        func wait() { _ = semaphore.wait(timeout: .now() + 30) }
    }

    public typealias Request = LoopbackHTTP.Request

    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    private let listener: Int32
    private let state = NIOLockedValueBox(State())

    private struct State {
        var script: [Reply] = []
        var defaultReply: Reply = .stream(["Hello", " there.\n", "Second line."])
        var requests: [Request] = []
        var clientCloses = 0
        var closeWaiters: [(Int, CheckedContinuation<Bool, Never>)] = []
        var requestWaiters: [(Int, CheckedContinuation<Void, Never>)] = []
        var stopped = false
        var connections: Set<Int32> = []
    }

    public init() throws {
        (listener, port) = try LoopbackHTTP.listen("fake OpenAI server")
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Stops accepting and closes every connection.
    public func stop() {
        let open = state.withLockedValue { state -> Set<Int32> in
            state.stopped = true
            return state.connections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    deinit { close(listener) }

    /// Replies for the next requests, in order.
    public func script(_ replies: Reply...) {
        state.withLockedValue { $0.script += replies }
    }

    public func setDefault(_ reply: Reply) {
        state.withLockedValue { $0.defaultReply = reply }
    }

    public var requests: [Request] { state.withLockedValue { $0.requests } }

    /// Connections the client closed while the server was still sending or holding them.
    public var clientCloses: Int { state.withLockedValue { $0.clientCloses } }

    /// True once `count` client closes were seen, false after `timeout`.
    public func waitForClientCloses(_ count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.clientCloses >= count { return true }
                state.closeWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume(returning: true) }
            else {
                Task {
                    try? await Task.sleep(for: timeout)
                    let waiter = self.state.withLockedValue { state -> CheckedContinuation<Bool, Never>? in
                        guard let index = state.closeWaiters.firstIndex(where: { $0.0 == count }) else { return nil }
                        return state.closeWaiters.remove(at: index).1
                    }
                    waiter?.resume(returning: false)
                }
            }
        }
    }

    /// Returns once `count` requests arrived (bounded by the caller's own timeout).
    public func waitForRequests(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.requests.count >= count { return true }
                state.requestWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    // MARK: Serving

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let accepted = state.withLockedValue { state -> Bool in
                if state.stopped { return false }
                state.connections.insert(fd)
                return true
            }
            guard accepted else { close(fd); return }
            // Each event as its own segment at once, as a streaming server sends it (Nagle
            // would hold the second small write for the client's delayed ACK: 40 ms).
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            Thread.detachNewThread { [self] in
                serve(fd)
                state.withLockedValue { _ = $0.connections.remove(fd) }
                close(fd)
            }
        }
    }

    private func serve(_ fd: Int32) {
        var buffer: [UInt8] = []
        while let request = LoopbackHTTP.readRequest(fd, &buffer) {
            let (reply, waiters) = state.withLockedValue { state -> (Reply, [CheckedContinuation<Void, Never>]) in
                state.requests.append(request)
                let count = state.requests.count
                let ready = state.requestWaiters.filter { $0.0 <= count }.map(\.1)
                state.requestWaiters.removeAll { $0.0 <= count }
                let reply = state.script.isEmpty ? state.defaultReply : state.script.removeFirst()
                return (reply, ready)
            }
            for waiter in waiters { waiter.resume() }
            guard play(reply, fd) else { return }
        }
    }

    /// Plays one reply; false when the connection is over.
    private func play(_ reply: Reply, _ fd: Int32) -> Bool {
        switch reply {
        case .delayed(let delay, let next):
            Thread.sleep(forTimeInterval: Self.seconds(delay))
            return play(next, fd)
        case .status(let code, let headers, let message):
            let body = Array("{\"error\":{\"message\":\"\(message)\",\"type\":\"fake\"}}".utf8)
            var head = "HTTP/1.1 \(code) Fake\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            return write(fd, Array((head + "\r\n").utf8) + body)
        case .stream(let deltas, let usage, let gap, let crlf, let comments):
            guard write(fd, Array(Self.streamHead.utf8)) else { return false }
            let end = crlf ? "\r\n" : "\n"
            for delta in deltas {
                if comments, !chunk(fd, ": keep-alive" + end + end) { return false }
                guard chunk(fd, "data: " + Self.deltaJSON(delta) + end + end) else { return false }
                if gap > .zero { Thread.sleep(forTimeInterval: Self.seconds(gap)) }
            }
            guard chunk(fd, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}" + end + end) else { return false }
            if let usage {
                let json = "{\"choices\":[],\"usage\":{\"prompt_tokens\":\(usage.0),\"completion_tokens\":\(usage.1),\"total_tokens\":\(usage.0 + usage.1)}}"
                guard chunk(fd, "data: " + json + end + end) else { return false }
            }
            return chunk(fd, "data: [DONE]" + end + end) && write(fd, Array("0\r\n\r\n".utf8))
        case .whole(let content):
            let body = Array(("{\"id\":\"fake\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\(jsonString(content))},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}").utf8)
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
            return write(fd, Array(head.utf8) + body)
        case .gated(let before, let gate, let after):
            guard write(fd, Array(Self.streamHead.utf8)) else { return false }
            for delta in before where !chunk(fd, "data: " + Self.deltaJSON(delta) + "\n\n") { return false }
            gate.wait()
            for delta in after where !chunk(fd, "data: " + Self.deltaJSON(delta) + "\n\n") { return false }
            return chunk(fd, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":9}}\n\n")
                && chunk(fd, "data: [DONE]\n\n") && write(fd, Array("0\r\n\r\n".utf8))
        case .rawEvents(let text):
            return write(fd, Array(Self.streamHead.utf8)) && chunk(fd, text) && write(fd, Array("0\r\n\r\n".utf8))
        case .hold(let deltas):
            guard write(fd, Array(Self.streamHead.utf8)) else { return false }
            for delta in deltas where !chunk(fd, "data: " + Self.deltaJSON(delta) + "\n\n") { return false }
            waitForClose(fd)
            return false
        case .raw(let bytes):
            _ = write(fd, bytes)
            return false
        case .reset(let deltas):
            guard write(fd, Array(Self.streamHead.utf8)) else { return false }
            for delta in deltas where !chunk(fd, "data: " + Self.deltaJSON(delta) + "\n\n") { return false }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            return false
        }
    }

    private static let streamHead =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"

    private static func deltaJSON(_ text: String) -> String {
        "{\"id\":\"fake\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\(jsonString(text))},\"finish_reason\":null}]}"
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Blocks until the peer closes (read returns 0 or fails), then records it.
    private func waitForClose(_ fd: Int32) {
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        let stopped = state.withLockedValue { $0.stopped }
        if !stopped { recordClientClose() }
    }

    private func recordClientClose() {
        let ready = state.withLockedValue { state -> [CheckedContinuation<Bool, Never>] in
            state.clientCloses += 1
            let count = state.clientCloses
            let ready = state.closeWaiters.filter { $0.0 <= count }.map(\.1)
            state.closeWaiters.removeAll { $0.0 <= count }
            return ready
        }
        for waiter in ready { waiter.resume(returning: true) }
    }

    /// One chunk of the chunked body; nothing for empty text (a zero-length chunk would end the
    /// body, and the real end after it would be garbage before the next response on the connection).
    private func chunk(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return true }
        return write(fd, Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10])
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        guard LoopbackHTTP.write(fd, bytes) else {
            // The client went away while we were sending: that is a close too.
            recordClientClose()
            return false
        }
        return true
    }
}
