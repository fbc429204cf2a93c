import Foundation
import GatewayCore
import GatewayTestSupport
import Platforms
import Testing

@Suite("HMAC-SHA256 and reply splitting")
struct DigestAndSplitTests {
    @Test("SHA-256 and HMAC-SHA256 match the published vectors (FIPS 180-4, RFC 4231)")
    func vectors() {
        #expect(HMACSHA256.hex(HMACSHA256.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(HMACSHA256.hex(HMACSHA256.sha256([UInt8]()))
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Two blocks once padded.
        #expect(HMACSHA256.hex(HMACSHA256.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block).
        #expect(HMACSHA256.hex(HMACSHA256.authenticationCode(for: Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(HMACSHA256.hex(HMACSHA256.authenticationCode(for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMACSHA256.hex(HMACSHA256.authenticationCode(
            for: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), key: [UInt8](repeating: 0xaa, count: 131)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("long replies split at line breaks or spaces, never inside a character")
    func splitting() {
        #expect(ReplySplitter.split("short", maxBytes: 10) == ["short"])
        #expect(ReplySplitter.split("", maxBytes: 10) == [""])
        #expect(ReplySplitter.split("one two three four", maxBytes: 9) == ["one two", "three", "four"])
        #expect(ReplySplitter.split("line one\nline two", maxBytes: 12) == ["line one", "line two"])
        let accents = String(repeating: "é", count: 10)  // 2 bytes each
        let parts = ReplySplitter.split(accents, maxBytes: 5)
        #expect(parts.allSatisfy { $0.utf8.count <= 5 })
        #expect(parts.joined() == accents)
        let emoji = String(repeating: "🙂", count: 5)  // 4 bytes each
        #expect(ReplySplitter.split(emoji, maxBytes: 6) == Array(repeating: "🙂", count: 5))
    }
}

@Suite("Webhook over real HTTP", .timeLimit(.minutes(1)))
struct WebhookTests {
    static let secret = "It's a Secret to Everybody"

    /// A webhook on a free loopback port in front of a real dispatcher (echo agent, one exec
    /// quick command); `body` runs curl against it.
    static func withWebhook(_ body: (_ url: String, _ inbound: RecordingInbound, _ dispatcher: Dispatcher) async throws -> Void) async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (secret + "\n").write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
        let dispatcher = await runningDispatcher("""
            quick_commands: {up: {type: exec, command: "echo up"}}
            access: {allowed_users: ["webhook:*"], admins: ["webhook:ops"]}
            """)
        let inbound = RecordingInbound(dispatcher)
        let adapter = WebhookAdapter(configuration: try WebhookConfiguration.reading(
            ["listen": "127.0.0.1:0", "secret_file": directory + "/secret"]))
        try await adapter.start(inbound: inbound)
        let port = try #require(adapter.boundPort)
        #expect(await adapter.health() == PlatformHealth(.up, "listening on 127.0.0.1:\(port)"))
        do {
            try await body("http://127.0.0.1:\(port)", inbound, dispatcher)
        } catch {
            await adapter.stop()
            throw error
        }
        await adapter.stop()
    }

    static func signature(_ body: String) -> String {
        "sha256=" + HMACSHA256.hex(HMACSHA256.authenticationCode(for: Array(body.utf8), key: Array(secret.utf8)))
    }

    /// curl's status line and body: "CODE BODY".
    static func curl(_ arguments: [String]) async throws -> String {
        let output = try await onThread {
            try run(["/usr/bin/curl", "-sS", "-o", "-", "-w", " %{http_code}", "--max-time", "30"] + arguments)
        }
        #expect(output.status == 0, "\(output.standardError)")
        let text = output.standardOutput
        guard let space = text.lastIndex(of: " ") else { return text }
        return String(text[text.index(after: space)...]) + " " + String(text[..<space])
    }

    static func post(_ url: String, _ body: String, signature: String? = nil) async throws -> String {
        var arguments = [url + "/webhook", "-H", "content-type: application/json", "--data-binary", body]
        if let signature { arguments += ["-H", "X-Hub-Signature-256: \(signature)"] }
        return try await curl(arguments)
    }

    @Test("a signed delivery is answered with the dispatcher's replies; health needs no signature")
    func signedDelivery() async throws {
        try await Self.withWebhook { (url: String, inbound: RecordingInbound, _: Dispatcher) async throws in
            let body = #"{"chat":"deploys","user":"ops","text":"/up","id":"d-1"}"#
            #expect(try await Self.post(url, body, signature: Self.signature(body)) == #"200 {"replies":["up"]}"#)
            let plain = #"{"chat":"deploys","user":"dev","text":"hello"}"#
            #expect(try await Self.post(url, plain, signature: Self.signature(plain)) == #"200 {"replies":["echo: hello"]}"#)
            let upper = Self.signature(plain).uppercased().replacingOccurrences(of: "SHA256=", with: "sha256=")
            #expect(try await Self.post(url, plain, signature: upper).hasPrefix("200 "), "hex digits in either case")
            #expect(try await Self.curl([url + "/health"]) == #"200 {"status":"ok"}"#)
            #expect(inbound.messages.count == 3)
        }
    }

    @Test("bad or missing signature: 401 without detail, nothing dispatched")
    func badSignature() async throws {
        try await Self.withWebhook { (url: String, inbound: RecordingInbound, _: Dispatcher) async throws in
            let body = #"{"chat":"c","user":"u","text":"hi"}"#
            #expect(try await Self.post(url, body) == "401 ")
            #expect(try await Self.post(url, body, signature: Self.signature(body + " ")) == "401 ")
            #expect(try await Self.post(url, body, signature: "sha1=abc") == "401 ")
            #expect(inbound.messages.count == 0)
        }
    }

    @Test("limits and malformed input: 413 past 1 MiB, 400 naming the problem, 404/405")
    func limits() async throws {
        try await Self.withWebhook { (url: String, inbound: RecordingInbound, _: Dispatcher) async throws in
            let directory = makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let huge = String(repeating: "x", count: (1 << 20) + 1)
            try huge.write(toFile: directory + "/huge", atomically: true, encoding: .utf8)
            let tooLarge = try await Self.curl([url + "/webhook", "--data-binary", "@\(directory)/huge",
                                                "-H", "X-Hub-Signature-256: \(Self.signature(huge))"])
            #expect(tooLarge.hasPrefix("413 "))
            let broken = #"{"chat":"c","user":"u","text":"#
            #expect(try await Self.post(url, broken, signature: Self.signature(broken)).hasPrefix(#"400 {"error":"malformed JSON: "#))
            let missing = #"{"chat":"c","text":"hi"}"#
            #expect(try await Self.post(url, missing, signature: Self.signature(missing)) == #"400 {"error":"missing \"user\" (a string)"}"#)
            #expect(try await Self.curl([url + "/elsewhere"]).hasPrefix("404 "))
            #expect(try await Self.curl([url + "/webhook"]).hasPrefix("405 "), "GET /webhook")
            #expect(inbound.messages.count == 0)
        }
    }

    @Test("a repeated id within 10 minutes gets the first answer, not a second dispatch")
    func duplicates() async throws {
        try await Self.withWebhook { (url: String, inbound: RecordingInbound, _: Dispatcher) async throws in
            let body = #"{"chat":"c","user":"ops","text":"/up","id":"same"}"#
            let first = try await Self.post(url, body, signature: Self.signature(body))
            let again = try await Self.post(url, body, signature: Self.signature(body))
            #expect(first == #"200 {"replies":["up"]}"#)
            #expect(again == first)
            #expect(inbound.messages.count == 1)
        }
    }

    @Test("16 concurrent posts, each answered with its own reply")
    func concurrent() async throws {
        try await Self.withWebhook { (url: String, inbound: RecordingInbound, _: Dispatcher) async throws in
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for n in 0..<16 {
                    group.addTask {
                        let body = #"{"chat":"c\#(n)","user":"u\#(n)","text":"n\#(n)","id":"id-\#(n)"}"#
                        return (n, try await Self.post(url, body, signature: Self.signature(body)))
                    }
                }
                var answers: [Int: String] = [:]
                for try await (n, answer) in group { answers[n] = answer }
                return answers
            }
            for n in 0..<16 { #expect(answers[n] == #"200 {"replies":["echo: n\#(n)"]}"#) }
            #expect(inbound.messages.count == 16)
        }
    }

    @Test("a secret file that is missing or empty, or a bad listen address, is a config error")
    func configuration() throws {
        #expect(throws: ConfigError.self) { try WebhookConfiguration.reading(["listen": "nowhere", "secret_file": "/dev/null"]) }
        let emptyFile = makeTemporaryDirectory("gatewayd-webhook-secret") + "/empty"
        #expect(FileManager.default.createFile(atPath: emptyFile, contents: Data()))
        let empty = #expect(throws: ConfigError.self) { try WebhookConfiguration.reading(["listen": "127.0.0.1:1", "secret_file": emptyFile]) }
        #expect(empty?.description.contains("is empty") == true)
        // A device (or a FIFO) is no secret file: refused without being read.
        let device = #expect(throws: ConfigError.self) { try WebhookConfiguration.reading(["listen": "127.0.0.1:1", "secret_file": "/dev/null"]) }
        #expect(device?.description.contains("not a regular file") == true)
        let missing = #expect(throws: ConfigError.self) { try WebhookConfiguration.reading(["listen": "127.0.0.1:1", "secret_file": "/nonexistent"]) }
        #expect(missing?.description.contains("cannot read /nonexistent") == true)
    }
}
