import Foundation
import GatewayCore
import GatewayTestSupport
@testable import Platforms
import NIOConcurrencyHelpers
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The webhook under hostile peers: real sockets, raw bytes, and curl where it can play the peer.
@Suite("Webhook limits", .timeLimit(.minutes(2)))
struct WebhookLimitsTests {
    static let secret = Array("It's a Secret to Everybody".utf8)

    /// A webhook on a loopback port with `configure`'s limits, in front of a running dispatcher.
    static func withWebhook(_ configure: (inout WebhookConfiguration) -> Void = { _ in },
                            inbound: (Dispatcher) -> any InboundHandler = { $0 },
                            _ body: (_ port: Int, _ adapter: WebhookAdapter) async throws -> Void) async throws {
        var configuration = WebhookConfiguration(host: "127.0.0.1", port: 0, secret: secret)
        configure(&configuration)
        let dispatcher = await runningDispatcher("""
            quick_commands: {up: {type: exec, command: "echo up"}, slow: {type: exec, command: "sleep 0.5; echo slow"}}
            access: {allowed_users: ["webhook:*"], admins: ["webhook:ops"]}
            """)
        let adapter = WebhookAdapter(configuration: configuration)
        try await adapter.start(inbound: inbound(dispatcher))
        let port = try #require(adapter.boundPort)
        do {
            try await body(port, adapter)
        } catch {
            await adapter.stop()
            throw error
        }
        await adapter.stop()
    }

    static func signature(_ body: [UInt8], timestamp: String? = nil) -> String {
        let parts = timestamp.map { [Array("\($0).".utf8), body] } ?? [body]
        return "sha256=" + HMACSHA256.hex(HMACSHA256.authenticationCode(forParts: parts, key: secret))
    }

    static func post(_ body: String, headers: [String]) -> String {
        (["POST /webhook HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
          "Content-Length: \(body.utf8.count)"] + headers).joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    @Test("a peer that sends its head byte by byte is cut at the head deadline")
    func slowHead() async throws {
        try await Self.withWebhook({ $0.headTimeout = .milliseconds(500) }) { port, adapter in
            let start = ContinuousClock.now
            let cut: Bool = try await onThread {
                let client = try RawTCPClient(port: port)
                _ = client.send("POST /webhook HTTP/1.1\r\n")
                // One header byte each 50 ms, for as long as the server takes it (30 s at most).
                for _ in 0..<600 {
                    if client.send("X") != nil || client.closedByPeer(within: .milliseconds(50)) { return true }
                }
                return false
            }
            let elapsed = ContinuousClock.now - start
            #expect(cut, "the dribbling head was never cut")
            // 0.5 s on an idle machine; the whole suite beside it (500 shells at once) can make it
            // seconds. Never cut was the defect.
            #expect(elapsed < .seconds(25), "cut after \(elapsed)")
            #expect(adapter.statistics.timedOut == 1)
        }
    }

    @Test("a keep-alive connection idle past the idle timeout is closed; a slow body is cut at its deadline")
    func idleAndSlowBody() async throws {
        try await Self.withWebhook({ $0.idleTimeout = .seconds(2); $0.bodyTimeout = .seconds(2) }) { port, adapter in
            let body = #"{"chat":"c","user":"u","text":"hi"}"#
            let (answer, idleClosed, bodyCut): (String?, Bool, Bool) = try await onThread {
                let idle = try RawTCPClient(port: port)
                _ = idle.send(Self.post(body, headers: ["X-Hub-Signature-256: \(Self.signature(Array(body.utf8)))"]))
                let answer = idle.receiveResponse()
                let idleClosed = idle.closedByPeer(within: .seconds(20))
                let slow = try RawTCPClient(port: port)
                _ = slow.send(Self.post("", headers: ["X-Hub-Signature-256: \(Self.signature([]))"])
                    .replacingOccurrences(of: "Content-Length: 0", with: "Content-Length: 100"))
                return (answer, idleClosed, slow.closedByPeer(within: .seconds(20)))
            }
            #expect(answer?.hasPrefix("HTTP/1.1 200 OK") == true, "\(answer ?? "no answer")")
            #expect(idleClosed)
            #expect(bodyCut)
            #expect(adapter.statistics.timedOut == 2)
        }
    }

    @Test("10,000 idle connections: at most max_connections are kept, the rest closed at once and counted")
    func connectionCap() async throws {
        raiseDescriptorLimit()
        try await Self.withWebhook({ $0.maxConnections = 64; $0.idleTimeout = .seconds(600) }) { port, adapter in
            var clients: [RawTCPClient] = try await onThread {
                try (0..<10_000).map { _ in try RawTCPClient(port: port, source: "127.0.0.2") }
            }
            // Accepting is asynchronous; every connection is either held or refused in the end.
            let deadline = ContinuousClock.now + .seconds(60)
            while adapter.statistics.accepted + adapter.statistics.refused < 10_000 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(adapter.statistics.open == 64)
            // 65 once on a loaded machine: a held connection the kernel reset (the listen backlog
            // overflowing under 10,000 connects) frees its slot for a later one. What is kept
            // stays at the cap; every connection is counted once.
            #expect(adapter.statistics.accepted >= 64)
            #expect(adapter.statistics.accepted + adapter.statistics.refused == 10_000)
            let last = clients.last!
            #expect(try await onThread { last.closedByPeer(within: .seconds(20)) }, "the last connection was not closed")
            clients.removeAll()
        }
    }

    @Test("no or a malformed signature: 401 and the connection closes before the 1 MiB body is read")
    func refusedBeforeBody() async throws {
        for header in [nil, "sha256=abc", "sha1=" + String(repeating: "0", count: 40), "sha256=" + String(repeating: "g", count: 64)] {
            try await Self.withWebhook { port, adapter in
                let (answer, refusal): (String?, Int32?) = try await onThread {
                    let client = try RawTCPClient(port: port)
                    let head = ["POST /webhook HTTP/1.1", "Host: 127.0.0.1", "Content-Length: \(1 << 20)"]
                        + (header.map { ["X-Hub-Signature-256: \($0)"] } ?? [])
                    _ = client.send(head.joined(separator: "\r\n") + "\r\n\r\n")
                    // The answer comes before a byte of the body was sent, then the server closes.
                    let answer = client.receiveResponse()
                    guard client.closedByPeer(within: .seconds(20)) else { return (answer, nil) }
                    var refusal: Int32?
                    for _ in 0..<64 where refusal == nil {
                        refusal = client.send([UInt8](repeating: 0x78, count: 16 << 10))
                    }
                    return (answer, refusal)
                }
                #expect(answer?.hasPrefix("HTTP/1.1 401 Unauthorized") == true, "\(header ?? "none"): \(answer ?? "no answer")")
                #expect(answer?.lowercased().contains("connection: close") == true)
                #expect(refusal == EPIPE || refusal == ECONNRESET, "the server took the whole body: \(String(describing: refusal))")
                #expect(adapter.statistics.bytesRead < 4096, "read \(adapter.statistics.bytesRead) bytes")
            }
        }
    }

    @Test("a 1 MiB body refused for its signature is not kept while the connection stays open")
    func bodyFreedAfterRefusal() async throws {
        try await Self.withWebhook { port, adapter in
            let (answers, open, held): ([String?], Int, Int) = try await onThread {
                let client = try RawTCPClient(port: port)
                var answers: [String?] = []
                let body = String(repeating: "x", count: 1 << 20)
                for _ in 0..<3 {
                    _ = client.send(Self.post(body, headers: ["X-Hub-Signature-256: \(Self.signature(Array("other".utf8)))"]))
                    answers.append(client.receiveResponse())
                }
                // Held open and idle while the server is asked what it still holds.
                return (answers, adapter.statistics.open, adapter.statistics.bodyBytesHeld)
            }
            #expect(answers.allSatisfy { $0?.hasPrefix("HTTP/1.1 401 Unauthorized") == true })
            #expect(open == 1)
            #expect(held == 0, "\(held) bytes of refused bodies still held")
        }
    }

    @Test("a signed timestamp: accepted within the replay window, refused outside it, altered, or missing when required")
    func timestamps() async throws {
        try await Self.withWebhook({ $0.replayWindow = .seconds(300) }) { port, _ in
            let body = #"{"chat":"c","user":"u","text":"hi"}"#
            let bytes = Array(body.utf8)
            let now = Int(time(nil))
            @Sendable func attempt(_ headers: [String]) throws -> String? {
                let client = try RawTCPClient(port: port)
                _ = client.send(Self.post(body, headers: headers))
                return client.receiveResponse()
            }
            let answers: [String?] = try await onThread {
                [
                    try attempt(["X-Hub-Signature-256: \(Self.signature(bytes, timestamp: "\(now)"))", "X-Gatewayd-Timestamp: \(now)"]),
                    try attempt(["X-Hub-Signature-256: \(Self.signature(bytes, timestamp: "\(now - 600)"))", "X-Gatewayd-Timestamp: \(now - 600)"]),
                    try attempt(["X-Hub-Signature-256: \(Self.signature(bytes, timestamp: "\(now + 600)"))", "X-Gatewayd-Timestamp: \(now + 600)"]),
                    // Signed over an old timestamp, sent with a fresh one: the HMAC does not match.
                    try attempt(["X-Hub-Signature-256: \(Self.signature(bytes, timestamp: "\(now - 600)"))", "X-Gatewayd-Timestamp: \(now)"]),
                    // A timestamp signed, then stripped: the body alone was not what was signed.
                    try attempt(["X-Hub-Signature-256: \(Self.signature(bytes, timestamp: "\(now)"))"]),
                    try attempt(["X-Hub-Signature-256: \(Self.signature(bytes, timestamp: "1e9"))", "X-Gatewayd-Timestamp: 1e9"]),
                ]
            }
            #expect(answers[0]?.hasPrefix("HTTP/1.1 200 OK") == true, "\(answers[0] ?? "")")
            for (index, answer) in answers.enumerated().dropFirst() {
                #expect(answer?.hasPrefix("HTTP/1.1 401 Unauthorized") == true, "attempt \(index): \(answer ?? "")")
            }
        }
        try await Self.withWebhook({ $0.requireTimestamp = true }) { port, _ in
            let body = #"{"chat":"c","user":"u","text":"hi"}"#
            let answer: String? = try await onThread {
                let client = try RawTCPClient(port: port)
                _ = client.send(Self.post(body, headers: ["X-Hub-Signature-256: \(Self.signature(Array(body.utf8)))"]))
                return client.receiveResponse()
            }
            #expect(answer?.hasPrefix("HTTP/1.1 401 Unauthorized") == true, "\(answer ?? "")")
        }
    }

    @Test("a retry of a delivery still in flight gets the first's answer over HTTP, with one dispatch")
    func retryOverHTTP() async throws {
        var recording: RecordingInbound?
        try await Self.withWebhook(inbound: { dispatcher in
            let inbound = RecordingInbound(dispatcher)
            recording = inbound
            return inbound
        }) { port, _ in
            let body = #"{"chat":"c","user":"ops","text":"/slow","id":"retry-1"}"#
            let request = Self.post(body, headers: ["X-Hub-Signature-256: \(Self.signature(Array(body.utf8)))"])
            async let first: String? = onThread {
                let client = try RawTCPClient(port: port)
                _ = client.send(request)
                return client.receiveResponse()
            }
            async let retry: String? = onThread {
                let client = try RawTCPClient(port: port)
                _ = client.send(request)
                return client.receiveResponse()
            }
            let answers = try await [first, retry]
            for answer in answers { #expect(answer?.hasSuffix(#"{"replies":["slow"]}"#) == true, "\(answer ?? "")") }
        }
        #expect(recording?.messages.count == 1)
    }

    @Test("a replay window widened by a reload lets no forgotten signature back in; narrowed, it applies at once")
    func replayWindowReloaded() async {
        let clock = TestClock()
        let wall = NIOLockedValueBox<Int64>(1_000_000)
        let log = DeliveryLog(window: .seconds(60), replayWindow: .seconds(300), now: { clock.now }, wallClock: { wall.withLockedValue { $0 } })
        func key(_ n: UInt8) -> DeliveryKey { .signature(SignatureDigest([UInt8](repeating: n, count: 32))) }
        #expect(await log.claim(key(1), timestamp: 1_000_000) == .first)
        log.answer([key(1)], [])
        // 400 s later its answer and its signature (300 s window) are forgotten.
        clock.advance(by: .seconds(400))
        wall.withLockedValue { $0 += 400 }
        #expect(await log.claim(key(9), timestamp: 1_000_400) == .first)
        #expect(log.rememberedSignatures == 1, "key(1)'s signature was forgotten with its window")
        log.setReplayWindow(.seconds(3600))
        // Inside the new window, but stamped before the old one began: a replay would pass the
        // signature check, so it is refused.
        if case .refused = await log.claim(key(1), timestamp: 1_000_000) {} else {
            Issue.record("a replay of a forgotten signature was let in by the wider window")
        }
        #expect(await log.claim(key(2), timestamp: 1_000_390) == .first, "a fresh delivery still passes")
        log.setReplayWindow(.seconds(5))
        if case .refused = await log.claim(key(3), timestamp: 1_000_390) {} else {
            Issue.record("the narrowed window did not apply")
        }
    }

    @Test("a request under way when a reload rotates the secret is checked against the secret it was signed with")
    func secretRotatedMidRequest() async throws {
        try await Self.withWebhook { port, adapter in
            let body = #"{"chat":"c","user":"ops","text":"/up"}"#
            let request = Self.post(body, headers: ["X-Hub-Signature-256: \(Self.signature(Array(body.utf8)))"])
            let split = request.utf8.count - 5
            let client = try await onThread { try RawTCPClient(port: port) }
            // The head and most of the body, signed with the secret in force now.
            _ = client.send(Array(request.utf8.prefix(split)))
            let deadline = ContinuousClock.now + .seconds(30)
            while adapter.statistics.bodyBytesHeld == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(adapter.statistics.bodyBytesHeld > 0, "the body never arrived")
            var rotated = adapter.configuration
            rotated.secret = Array("a new secret".utf8)
            #expect(await adapter.apply(rotated), "a new secret applies in place")
            _ = client.send(Array(request.utf8.dropFirst(split)))
            let answer = try await onThread { client.receiveResponse() }
            #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "no answer")")
            // The next request needs the new secret.
            let next = try await onThread { () -> String? in
                let other = try RawTCPClient(port: port)
                _ = other.send(request)
                return other.receiveResponse()
            }
            #expect(next?.hasPrefix("HTTP/1.1 401") == true, "\(next ?? "no answer")")
        }
    }

    @Test("a retry waiting on a delivery still being worked out gets its answer, however long it takes")
    func retryWhileInFlight() async throws {
        let clock = TestClock()
        let log = DeliveryLog(window: .seconds(600), now: { clock.now })
        #expect(await log.claim(.id("slow")) == .first, "the first delivery works it out")
        let retry = Task { await log.claim(.id("slow")) }
        let deadline = ContinuousClock.now + .seconds(30)
        while log.waiters(.id("slow")) == 0, ContinuousClock.now < deadline { await Task.yield() }
        try #require(log.waiters(.id("slow")) == 1, "the retry never waited")
        // Longer than the window passes before the first is answered; another id comes meanwhile.
        clock.advance(by: .seconds(700))
        #expect(await log.claim(.id("other")) == .first)
        log.answer([.id("slow")], Array("first".utf8))
        let answered = await value(of: retry, within: .seconds(5))
        #expect(answered == .earlier(Array("first".utf8)), "the retry hung or got nothing")
        // A later retry, within the window after the answer, gets it too: no second dispatch.
        #expect(await log.claim(.id("slow")) == .earlier(Array("first".utf8)))
    }

    @Test("a captured timestamped delivery replayed without an id: the first answer within 10 minutes, refused after, never a second dispatch")
    func replayWithoutID() async throws {
        var recording: RecordingInbound?
        try await Self.withWebhook({ $0.replayWindow = .seconds(3600) }, inbound: { dispatcher in
            let inbound = RecordingInbound(dispatcher)
            recording = inbound
            return inbound
        }) { port, adapter in
            let body = #"{"chat":"c","user":"ops","text":"/up"}"#
            let now = "\(time(nil))"
            let request = Self.post(body, headers: ["X-Hub-Signature-256: \(Self.signature(Array(body.utf8), timestamp: now))",
                                                    "X-Gatewayd-Timestamp: \(now)"])
            let answers: [String?] = try await onThread {
                try (0..<3).map { _ in
                    let client = try RawTCPClient(port: port)
                    _ = client.send(request)
                    return client.receiveResponse()
                }
            }
            for answer in answers { #expect(answer?.hasSuffix(#"{"replies":["up"]}"#) == true, "\(answer ?? "")") }
            #expect(adapter.deliveries.rememberedSignatures == 1)
        }
        #expect(recording?.messages.count == 1, "a replay was dispatched again")
    }

    @Test("a replay after its answer is forgotten is refused while its timestamp is in the window; signatures kept are bounded by a floor")
    func replayAfterAnswerForgotten() async {
        let clock = TestClock()
        let wall = NIOLockedValueBox<Int64>(1_000_000)
        let log = DeliveryLog(window: .seconds(600), replayWindow: .seconds(86_400), maxSignatures: 3,
                              now: { clock.now }, wallClock: { wall.withLockedValue { $0 } })
        func key(_ n: UInt8) -> DeliveryKey { .signature(SignatureDigest([UInt8](repeating: n, count: 32))) }
        #expect(await log.claim(key(1), timestamp: 1_000_000) == .first)
        log.answer([key(1)], Array("one".utf8))
        clock.advance(by: .seconds(601))
        wall.withLockedValue { $0 += 601 }
        guard case .refused(let reason) = await log.claim(key(1), timestamp: 1_000_000) else {
            Issue.record("a replay past the answer window was not refused")
            return
        }
        #expect(reason.contains("10 minutes"))
        // Past the replay window the signature check refuses it by itself: the log forgets it.
        wall.withLockedValue { $0 += 86_400 }
        #expect(await log.claim(key(9), timestamp: 1_087_000) == .first)
        log.answer([key(9)], [])
        #expect(log.rememberedSignatures == 1)
        // Two more than the bound: the oldest ones go, and their timestamps become the floor.
        for n in UInt8(2)...5 {
            #expect(await log.claim(key(n), timestamp: 1_087_000 + Int64(n)) == .first)
            log.answer([key(n)], [])
        }
        #expect(log.rememberedSignatures == 3)
        // key(9)'s answer is still kept: a replay gets it. A new delivery at or before the floor cannot be checked.
        #expect(await log.claim(key(9), timestamp: 1_087_000) == .earlier([]))
        if case .refused(let reason) = await log.claim(key(20), timestamp: 1_087_002) {
            #expect(reason.contains("new timestamp"))
        } else {
            Issue.record("a new signature at the floor was not refused")
        }
        #expect(await log.claim(key(21), timestamp: 1_087_003) == .first, "after the floor: accepted")
    }

    @Test("a replay whose head came inside the replay window and whose body ended after it is refused, not dispatched again")
    func replayAcrossTheWindowEdge() async {
        let clock = TestClock()
        let wall = NIOLockedValueBox<Int64>(1_000_000)
        let log = DeliveryLog(window: .seconds(600), replayWindow: .seconds(3600),
                              now: { clock.now }, wallClock: { wall.withLockedValue { $0 } })
        let key = DeliveryKey.signature(SignatureDigest([UInt8](repeating: 7, count: 32)))
        #expect(await log.claim(key, timestamp: 1_000_000) == .first)
        log.answer([key], Array("one".utf8))
        // The head of a replay passes at +3599 s; its body, trickled in, ends at +3601 s, when
        // the answer and the signature are both forgotten.
        clock.advance(by: .seconds(3601))
        wall.withLockedValue { $0 += 3601 }
        guard case .refused(let reason) = await log.claim(key, timestamp: 1_000_000) else {
            Issue.record("the replay was dispatched a second time")
            return
        }
        #expect(reason.contains("replay window"))
    }

    @Test("answers kept are bounded in bytes: the oldest is forgotten first")
    func answerBytesBounded() async {
        let log = DeliveryLog(maxAnswerBytes: 10)
        for id in ["a", "b", "c"] {
            #expect(await log.claim(.id(id)) == .first)
            log.answer([.id(id)], Array("four".utf8))
        }
        #expect(await log.claim(.id("a")) == .first, "forgotten: 12 bytes were over the bound")
        #expect(await log.claim(.id("c")) == .earlier(Array("four".utf8)))
    }

    @Test("a POST to another path, or another method on /webhook, is answered from its head; its 1 MiB body is never read")
    func wrongRouteBeforeBody() async throws {
        try await Self.withWebhook { port, adapter in
            for head in ["POST /elsewhere HTTP/1.1", "PUT /webhook HTTP/1.1"] {
                let answer: String? = try await onThread {
                    let client = try RawTCPClient(port: port)
                    _ = client.send("\(head)\r\nHost: 127.0.0.1\r\nContent-Length: \(WebhookConfiguration.maxBody)\r\n\r\n")
                    return client.receiveResponse()
                }
                #expect(answer?.hasPrefix(head.hasPrefix("POST") ? "HTTP/1.1 404" : "HTTP/1.1 405") == true, "\(head): \(answer ?? "nothing before the body")")
                #expect(answer?.lowercased().contains("connection: close") == true)
            }
            #expect(adapter.statistics.bodyBytes.load(ordering: .relaxed) == 0)
            // A health check that announces a body is answered at once, not held for it.
            let health: String? = try await onThread {
                let client = try RawTCPClient(port: port)
                _ = client.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
                return client.receiveResponse()
            }
            #expect(health?.hasPrefix("HTTP/1.1 200") == true, "\(health ?? "nothing before the body")")
            #expect(health?.hasSuffix(#"{"status":"ok"}"#) == true)
        }
    }
}

/// The task's value, or nil when it has none within `timeout` (a hung task is left behind rather
/// than awaited forever, so the test fails instead of hanging).
func value<T: Sendable>(of task: Task<T, Never>, within timeout: Duration) async -> T? {
    let once = OnceContinuation<T?>()
    return await withCheckedContinuation { continuation in
        once.set(continuation)
        Task { once.resume(await task.value) }
        Task {
            try? await Task.sleep(for: timeout)
            once.resume(nil)
        }
    }
}

/// A continuation resumed by whichever comes first.
final class OnceContinuation<T: Sendable>: Sendable {
    private let slot = NIOLockedValueBox<CheckedContinuation<T, Never>?>(nil)
    func set(_ continuation: CheckedContinuation<T, Never>) { slot.withLockedValue { $0 = continuation } }
    func resume(_ value: T) { slot.withLockedValue { $0.take() }?.resume(returning: value) }
}

/// A clock a test moves by hand.
final class TestClock: Sendable {
    private let current = NIOLockedValueBox(ContinuousClock.now)
    var now: ContinuousClock.Instant { current.withLockedValue { $0 } }
    func advance(by duration: Duration) { current.withLockedValue { $0 += duration } }
}

/// Raises the soft descriptor limit to the hard one (thousands of sockets in one test).
func raiseDescriptorLimit() {
    var limit = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
}
