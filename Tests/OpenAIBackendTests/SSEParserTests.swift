import GatewayCore
import JSON
import OpenAIProtocol
import Testing
@testable import OpenAIBackend

@Suite struct SSEParserTests {
    /// Every split of the body into two reads gives the same events: an event, a line and even
    /// a CRLF cut across reads.
    @Test(arguments: ["\n", "\r\n", "\r"])
    func eventsSplitAnywhere(_ end: String) throws {
        let body = ": comment\(end)data: {\"a\":1}\(end)\(end)event: ping\(end)data: x\(end)data: y\(end)\(end)data:[DONE]\(end)\(end)"
        let bytes = Array(body.utf8)
        let expected = [ServerSentEvent(type: nil, data: "{\"a\":1}"), ServerSentEvent(type: "ping", data: "x\ny"),
                        ServerSentEvent(type: nil, data: "[DONE]")]
        for cut in 0...bytes.count {
            var parser = ServerSentEventParser()
            let events = try parser.feed(bytes[..<cut]) + parser.feed(bytes[cut...])
            #expect(events == expected, "cut at \(cut)")
        }
    }

    /// A leading byte order mark is dropped (as the standard says), split across reads or not;
    /// one later in the stream, or a lone first byte of one, is text.
    @Test func aByteOrderMarkAtTheStartIsDropped() throws {
        let bytes: [UInt8] = [0xef, 0xbb, 0xbf] + Array("data: a\n\n".utf8)
        for cut in 0...bytes.count {
            var parser = ServerSentEventParser()
            let events = try parser.feed(bytes[..<cut]) + parser.feed(bytes[cut...])
            #expect(events == [ServerSentEvent(type: nil, data: "a")], "cut at \(cut)")
        }
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("data: a\n\n\u{FEFF}data: b\n\n".utf8)) == [ServerSentEvent(type: nil, data: "a")])
        var partial = ServerSentEventParser()
        #expect(try partial.feed([0xef] + Array(":x\ndata: c\n\n".utf8)) == [ServerSentEvent(type: nil, data: "c")])
    }

    /// The history sent is bounded in bytes as well as in pairs: the oldest long answers go first.
    @Test func historyIsBoundedInBytesNewestKept() throws {
        let long = String(repeating: "x", count: 100 << 10)
        let earlier = (1...3).map { HistoryTurn(user: "q\($0)", answer: long, outcome: .complete) }
        let body = try JSONValue.parse(ChatCompletion.requestBody(model: "m", settings: OpenAISettings(primary: .init(baseURL: "http://h", model: "m")),
                                                                  earlier: earlier, text: "now"))
        let users = (body.object?["messages"]?.array ?? []).filter { $0.object?["role"] == "user" }.map { $0.object?["content"]?.string ?? "" }
        #expect(users == ["q2", "q3", "now"], "two 100 KiB answers fit in 256 KiB, three do not")
        #expect(ChatCompletion.fitting(earlier, maxBytes: 10).isEmpty)
        #expect(ChatCompletion.fitting([HistoryTurn(user: "a", answer: "b", outcome: .complete)], maxBytes: 2).count == 1)
    }

    @Test func commentsAndEmptyEventsDispatchNothing() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array(": keep-alive\n\n\n\nid: 4\nretry: 10\n\n".utf8)).isEmpty)
    }

    @Test func anEndlessLineIsRefusedNotBuffered() throws {
        var parser = ServerSentEventParser(maxEventBytes: 1024)
        _ = try parser.feed(Array("data: ".utf8))
        #expect(throws: ServerSentEventParser.TooLarge.self) {
            for _ in 0..<100 { _ = try parser.feed([UInt8](repeating: UInt8(ascii: "a"), count: 100)) }
        }
    }

    @Test func chunksParse() throws {
        let delta = try ChatCompletion.parseChunk(#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#)
        #expect(delta.content == "Hi" && delta.finishReason == nil)
        let usage = try ChatCompletion.parseChunk(#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":-4}}"#)
        #expect(usage.usage == AgentUsage(tokensIn: 12, tokensOut: 0), "a negative count is not carried on")
        let huge = try ChatCompletion.parseChunk(#"{"usage":{"prompt_tokens":1e300,"completion_tokens":18446744073709551616}}"#)
        #expect(huge.usage != nil)
        let error = try ChatCompletion.parseChunk(#"{"error":{"message":"context\nfull"}}"#)
        #expect(error.error == "context\nfull")
        #expect(throws: ChatCompletion.MalformedChunk.self) { try ChatCompletion.parseChunk("{not json") }
        #expect(throws: ChatCompletion.MalformedChunk.self) { try ChatCompletion.parseChunk("[1]") }
        #expect(ChatCompletion.oneLine("a\r\nb\u{0}c") == "a  b c")
    }

    /// One character can hold any number of combining marks: 300 characters of a server's
    /// text were no bound (its whole error body went into the log and the chat's reply).
    @Test func oneLineIsBoundedInScalars() {
        let huge = "x" + String(repeating: "\u{301}", count: 200_000)
        let line = ChatCompletion.oneLine(huge)
        #expect(line.unicodeScalars.count == 301, "\(line.utf8.count) bytes")
        #expect(line.hasSuffix("…"))
        #expect(ChatCompletion.oneLine(String(repeating: "a", count: 300)) == String(repeating: "a", count: 300))
    }
}

@Suite struct ReplyLinesTests {
    @Test func finishedLinesGoAtOnceAndTheRestAtTheEnd() {
        var lines = ReplyLines()
        #expect(lines.add("Hel").isEmpty)
        #expect(lines.add("lo\nwor") == ["Hello"])
        #expect(lines.add("ld\n\n  \n- item\n") == ["world", "- item"])
        #expect(lines.add("tail  ").isEmpty)
        #expect(lines.finish() == "tail")
        #expect(lines.finish() == nil)
    }

    @Test func aLineWithoutNewlinesIsCutAtSpaces() {
        var lines = ReplyLines(maxPart: 20)
        let parts = lines.add(String(repeating: "word ", count: 10))
        #expect(!parts.isEmpty && parts.allSatisfy { $0.count <= 20 })
        let rest = lines.finish() ?? ""
        #expect((parts + [rest]).joined(separator: " ").split(separator: " ").count == 10)
        var hard = ReplyLines(maxPart: 20)
        #expect(hard.add(String(repeating: "x", count: 45)).map(\.count) == [20, 20])
    }
}

@Suite struct CircuitBreakerTests {
    @Test func opensAfterFiveFailuresAndHalfOpensAfterTheCooldown() {
        var breaker = CircuitBreaker(threshold: 5, cooldown: .seconds(30))
        let start = ContinuousClock.now
        for _ in 0..<4 {
            #expect(breaker.admit(now: start) == .go)
            breaker.failed(now: start)
        }
        #expect(breaker.status(now: start) == .closed)
        breaker.failed(now: start)
        #expect(breaker.status(now: start) == .open)
        #expect(breaker.admit(now: start + .seconds(10)) == .refused(retryIn: .seconds(20)))
        #expect(breaker.admit(now: start + .seconds(30)) == .trial)
        #expect(breaker.admit(now: start + .seconds(30)) == .refused(retryIn: .seconds(1)), "one trial at a time")
        breaker.failed(now: start + .seconds(31))
        #expect(breaker.status(now: start + .seconds(32)) == .open, "a failed trial opens it again")
        #expect(breaker.admit(now: start + .seconds(61)) == .trial)
        breaker.succeeded()
        #expect(breaker.status(now: start + .seconds(61)) == .closed && breaker.consecutiveFailures == 0)
    }

    @Test func anAbandonedTrialLetsTheNextRequestTry() {
        var breaker = CircuitBreaker(threshold: 1, cooldown: .seconds(1))
        let start = ContinuousClock.now
        breaker.failed(now: start)
        let trial = breaker.admit(now: start + .seconds(2))
        #expect(trial == .trial)
        breaker.abandoned(trial)
        #expect(breaker.admit(now: start + .seconds(2)) == .trial)
    }

    @Test func aSuccessResetsTheCount() {
        var breaker = CircuitBreaker(threshold: 3, cooldown: .seconds(1))
        let now = ContinuousClock.now
        breaker.failed(now: now)
        breaker.failed(now: now)
        breaker.succeeded()
        breaker.failed(now: now)
        breaker.failed(now: now)
        #expect(breaker.status(now: now) == .closed)
    }
}

@Suite struct ProxyEnvironmentTests {
    @Test func proxiesAndExclusions() {
        let proxies = ProxyEnvironment(environment: [
            "https_proxy": "http://user:pw@proxy.example:3128", "HTTP_PROXY": "proxy2:8080",
            "no_proxy": "localhost, .internal.example,127.0.0.1,example.org:443",
        ])
        #expect(proxies.proxy(for: "https://api.openai.com/v1") == .init(host: "proxy.example", port: 3128, credentials: "user:pw"))
        #expect(proxies.proxy(for: "http://api.example.net/v1") == .init(host: "proxy2", port: 8080, credentials: nil))
        #expect(proxies.proxy(for: "http://127.0.0.1:8080/v1") == nil)
        #expect(proxies.proxy(for: "https://llm.internal.example/v1") == nil)
        #expect(proxies.proxy(for: "https://internal.example/v1") == nil)
        #expect(proxies.proxy(for: "https://sub.example.org/v1") == nil)
        #expect(proxies.proxy(for: "https://notexample.org/v1") != nil)
        #expect(ProxyEnvironment(environment: ["https_proxy": "http://p:1", "NO_PROXY": "*"]).proxy(for: "https://x/v1") == nil)
        #expect(ProxyEnvironment(environment: [:]).proxy(for: "https://x/v1") == nil)
        #expect(ProxyEnvironment.parseProxy("http://[::1]:3128") == .init(host: "::1", port: 3128))
        #expect(ProxyEnvironment.parseProxy("http://p:99999") == nil)
    }
}
