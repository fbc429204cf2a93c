import Foundation
@testable import GatewayCore
import Testing

@Suite("Config: agent.openai")
struct OpenAIConfigTests {
    @Test("the issue's example reads in full, keys from their files, fallbacks in order")
    func fullSection() throws {
        let directory = NSTemporaryDirectory() + "gatewayd-openai-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "sk-primary\n".write(toFile: directory + "/openai.key", atomically: true, encoding: .utf8)
        try "sk-fallback".write(toFile: directory + "/fallback.key", atomically: true, encoding: .utf8)
        let outcome = ConfigLoader.parse("""
            agent:
              backend: openai
              turn_timeout: 10m
              openai:
                base_url: http://127.0.0.1:8080/v1/
                model: smollm2
                api_key_file: \(directory)/openai.key
                system_prompt: "You are the ops assistant of this host."
                history_turns: 20
                max_tokens: 512
                temperature: 0.7
                request_timeout: 120s
                retries: 2
                fallbacks:
                  - {base_url: "https://api.example.net/v1", model: "gpt-4o-mini", api_key_file: \(directory)/fallback.key}
            """)
        #expect(outcome.problems.isEmpty, "\(outcome.problems)")
        let settings = try #require(outcome.config.agent.openai)
        #expect(outcome.config.agent.backend == .openai)
        #expect(settings.primary == .init(baseURL: "http://127.0.0.1:8080/v1", model: "smollm2", apiKey: Secret(Array("sk-primary".utf8))))
        #expect(settings.fallbacks == [.init(baseURL: "https://api.example.net/v1", model: "gpt-4o-mini",
                                             apiKey: Secret(Array("sk-fallback".utf8)))])
        #expect(settings.systemPrompt == "You are the ops assistant of this host.")
        #expect(settings.historyTurns == 20 && settings.maxTokens == 512 && settings.temperature == 0.7)
        #expect(settings.requestTimeout == .seconds(120) && settings.retries == 2)
        #expect(!"\(outcome.config)".contains("sk-primary"), "a printed config shows no key")
    }

    @Test("defaults: no key, 20 pairs, 512 tokens, the server's temperature, 120 s, 2 retries")
    func defaults() throws {
        let outcome = ConfigLoader.parse("agent: {backend: openai, openai: {base_url: 'https://h/v1', model: m}}")
        #expect(outcome.problems.isEmpty)
        let settings = try #require(outcome.config.agent.openai)
        #expect(settings.primary.apiKey == nil && settings.historyTurns == 20 && settings.maxTokens == 512)
        #expect(settings.temperature == nil && settings.requestTimeout == .seconds(120) && settings.retries == 2)
    }

    @Test("every problem with its key and line: missing keys, bad URLs, out-of-range numbers, a missing key file")
    func problems() throws {
        let outcome = ConfigLoader.parse("""
            agent:
              backend: openai
              openai:
                base_url: "ftp://host/v1"
                model: ""
                api_key_file: /nonexistent/key
                history_turns: -1
                max_tokens: 0
                temperature: .inf
                request_timeout: 0s
                retries: 11
                colour: blue
                fallbacks:
                  - {base_url: "http://user:pw@host/v1", model: m}
                  - {model: m2}
                  - "http://bad"
            """)
        let described = outcome.errors.map { "\($0.path):\($0.line ?? 0)" }
        #expect(described == [
            "agent.openai.base_url:4", "agent.openai.model:5", "agent.openai.api_key_file:6", "agent.openai.history_turns:7",
            "agent.openai.max_tokens:8", "agent.openai.temperature:9", "agent.openai.request_timeout:10",
            "agent.openai.retries:11", "agent.openai.colour:12", "agent.openai.fallbacks[0].base_url:14",
            "agent.openai.fallbacks[1].base_url:15", "agent.openai.fallbacks[2]:16",
        ], "\(outcome.errors.map(\.description).joined(separator: "\n"))")
        #expect(outcome.errors.contains { $0.path == "agent.openai.api_key_file" && $0.message.contains("/nonexistent/key") })
        #expect(outcome.errors.contains { $0.path == "agent.openai.fallbacks[0].base_url" })
        #expect(outcome.errors.contains { $0.path == "agent.openai.fallbacks[1].base_url" && $0.message.contains("required") })
        #expect(outcome.errors.contains { $0.path == "agent.openai.colour" })
    }

    @Test("backend openai without its section is an error; a section with another backend is checked all the same")
    func sectionRequired() {
        let missing = ConfigLoader.parse("agent: {backend: openai}")
        #expect(missing.errors.map(\.path) == ["agent.openai"])
        let checked = ConfigLoader.parse("agent: {backend: echo, openai: {base_url: 'http://h/v1 x', model: m}}")
        #expect(checked.errors.map(\.path) == ["agent.openai.base_url"])
    }

    @Test("a key file with a line break or another control character inside is refused (it goes into a header)")
    func keyInjection() throws {
        let directory = NSTemporaryDirectory() + "gatewayd-openai-key-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (index, content) in ["sk-a\r\nX-Injected: yes\n", "sk-a\nsk-b\n", "sk-\u{0}a", "sk-\u{7f}"].enumerated() {
            try content.write(toFile: directory + "/key\(index)", atomically: true, encoding: .utf8)
            let outcome = ConfigLoader.parse("agent: {backend: openai, openai: {base_url: 'http://h/v1', model: m, api_key_file: \(directory)/key\(index)}}")
            #expect(outcome.errors.map(\.path) == ["agent.openai.api_key_file"], "\(content.debugDescription)")
            #expect(outcome.errors.first?.message.contains("control character") == true)
            #expect(!outcome.errors.contains { $0.message.contains("sk-") }, "the key is not quoted in the error")
        }
        try "sk-fine\r\n".write(toFile: directory + "/fine", atomically: true, encoding: .utf8)
        let fine = ConfigLoader.parse("agent: {backend: openai, openai: {base_url: 'http://h/v1', model: m, api_key_file: \(directory)/fine}}")
        #expect(fine.problems.isEmpty && fine.config.agent.openai?.primary.apiKey == Secret(Array("sk-fine".utf8)))
    }

    @Test("a port the request could not use is refused at check time; IPv6 literals and plain ports read")
    func ports() {
        for url in ["http://h:99999/v1", "http://h:0/v1", "http://h:abc/v1", "http://h:/v1", "http://[::1/v1", "http://[::1]x/v1",
                    "http://[]/v1", "http://:8080/v1", "http://h:８０/v1"] {
            let outcome = ConfigLoader.parse("agent: {backend: openai, openai: {base_url: \(String(reflecting: url)), model: m}}")
            #expect(outcome.errors.map(\.path) == ["agent.openai.base_url"], "\(url)")
        }
        for url in ["http://h:8080/v1", "http://[::1]:8080/v1", "https://[fe80::1]/v1", "http://h/v1", "https://h:65535"] {
            let outcome = ConfigLoader.parse("agent: {backend: openai, openai: {base_url: \(String(reflecting: url)), model: m}}")
            #expect(outcome.problems.isEmpty, "\(url): \(outcome.problems)")
        }
    }

    @Test("a URL that could split a request line or header is refused")
    func injection() {
        for url in ["http://h/v1\r\nX-Evil: 1", "http://h/v1\u{0}", "http:///v1", "https://h/v1?key=1", "http://h/v1#frag"] {
            let outcome = ConfigLoader.parse("agent: {backend: openai, openai: {base_url: \(String(reflecting: url)), model: m}}")
            #expect(outcome.errors.map(\.path) == ["agent.openai.base_url"], "\(url.debugDescription)")
        }
    }
}
