import Foundation
import Testing
@testable import GatewayCore

@Suite("YAML over libyaml")
struct YAMLNodeTests {
    @Test("mappings keep file order and lines; scalars keep whether they were quoted")
    func shapes() throws {
        let node = try #require(try YAMLNode.parse("a: 1\nb:\n  - x\n  - \"true\"\nc: {d: yes}\n"))
        let pairs = try #require(node.mapping)
        #expect(pairs.map { $0.key.string } == ["a", "b", "c"])
        #expect(pairs.map(\.key.line) == [1, 2, 5])
        #expect(pairs[0].value.int == 1)
        let list = try #require(pairs[1].value.sequence)
        #expect(list[0] == .scalar("x", quoted: false, line: 3))
        #expect(list[1].string == "true" && list[1].bool == nil, "a quoted true is text")
        #expect(pairs[2].value.mapping?.first?.value.bool == true)
        #expect(pairs[2].value.flowText == "{d: yes}")
        #expect(try YAMLNode.parse("") == nil)
        #expect(try YAMLNode.parse("# only a comment\n") == nil)
    }

    @Test("numbers, nulls and booleans as YAML 1.1 reads them")
    func scalars() throws {
        func node(_ text: String) throws -> YAMLNode { try #require(try YAMLNode.parse(text)) }
        #expect(try node("1_000").int == 1000)
        #expect(try node("-12").int == -12)
        #expect(try node("0x1f").int == 31)
        #expect(try node("'5'").int == nil)
        #expect(try node("5s").int == nil)
        #expect(try node("~").isNull && node("null").isNull)
        #expect(try !node("'null'").isNull)
        #expect(try node("off").bool == false)
    }

    @Test("a sign after the first, or after 0x/0o, is no number (and -0x-8000000000000000 no trap)")
    func signs() throws {
        func node(_ text: String) throws -> YAMLNode { try #require(try YAMLNode.parse(text)) }
        for text in ["-0x-8000000000000000", "-0o-1000000000000000000000", "--5", "+-5", "0x-5", "0o+7", "-", "0x", "9223372036854775808"] {
            #expect(try node(text).int == nil, "\(text)")
        }
        #expect(try node("-9223372036854775808").int == Int.min)
        #expect(try node("9223372036854775807").int == Int.max)
        #expect(try node("-0x10").int == -16)
        #expect(try node("+0o17").int == 15)
        #expect(try node("0").int == 0)
        #expect(try node("-0").int == 0)
        #expect(try node("1_0").int == 10)
    }

    @Test("an alias is refused with its line (the config needs none); an anchor alone is harmless")
    func aliases() throws {
        let error = #expect(throws: YAMLError.self) { try YAMLNode.parse("base: &b {timeout: 5}\nother: *b\n") }
        #expect(error?.line == 2)
        #expect(error?.message.contains("alias *b not supported") == true)
        let anchored = try #require(try YAMLNode.parse("base: &b {timeout: 5}\n"))
        #expect(anchored.mapping?.first?.value.mapping?.first?.value.int == 5)
    }

    @Test("a billion-laughs file is refused at its first alias, at once and in little memory")
    func billionLaughs() throws {
        // Nine levels of ten aliases each: 10^9 leaves if it were expanded.
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        text += "platforms: {webhook: {listen: *a9}}\n"
        let clock = ContinuousClock()
        var outcome: ConfigLoader.LoadedConfig?
        let elapsed = clock.measure { outcome = ConfigLoader.parse(text) }
        #expect(outcome?.errors.first?.description == "not valid YAML: alias *a0 not supported in gatewayd's configuration; write the value out in full (line 2)")
        #expect(elapsed < .seconds(1), "\(elapsed)")
    }

    @Test("a long flow list or mapping composes in linear time (100,000 items: 10 times 10,000 items' time, not 100)")
    func longCollections() throws {
        func lists(_ count: Int) -> (list: String, mapping: String) {
            ("[" + (0..<count).map { "u\($0)" }.joined(separator: ", ") + "]",
             "{" + (0..<count).map { "k\($0): v" }.joined(separator: ", ") + "}")
        }
        let clock = ContinuousClock()
        let small = lists(10_000)
        let smallTime = try clock.measure { _ = [try YAMLNode.parse(small.list), try YAMLNode.parse(small.mapping)] }
        let count = 100_000
        let big = lists(count)
        var nodes: [YAMLNode?] = []
        let elapsed = try clock.measure { nodes = [try YAMLNode.parse(big.list), try YAMLNode.parse(big.mapping)] }
        #expect(nodes[0]?.sequence?.count == count)
        #expect(nodes[0]?.sequence?.last?.string == "u\(count - 1)")
        #expect(nodes[1]?.mapping?.count == count)
        #expect(nodes[1]?.mapping?.last?.key.string == "k\(count - 1)")
        // Quadratic, this took minutes (20,000 items: 4 s in a debug build); linear, 0.4 s alone
        // and 10 s under ThreadSanitizer on two busy cores: the ratio to a tenth of the items
        // tells them apart on any machine (about 10 linear, 100 quadratic).
        #expect(elapsed < .seconds(5) || elapsed < smallTime * 40, "\(elapsed) for \(count) items, \(smallTime) for 10,000")
    }

    @Test("broken text, a second document and hostile nesting are errors, not crashes")
    func errors() {
        let broken = #expect(throws: YAMLError.self) { try YAMLNode.parse("a: [1, 2\nb: 3\n") }
        #expect(broken?.line != nil)
        #expect(broken?.message.isEmpty == false)
        let twoDocuments = #expect(throws: YAMLError.self) { try YAMLNode.parse("a: 1\n---\nb: 2\n") }
        #expect(twoDocuments?.line == 2)
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: YAMLError.self) { try YAMLNode.parse(deep) }
    }

    @Test("config: YAML errors carry their line; duplicate keys are refused")
    func configErrors() {
        let invalid = ConfigLoader.parse("drain:\n  timeout: 5\n quick: [\n")
        #expect(invalid.errors.count == 1)
        #expect(invalid.errors.first?.message.hasPrefix("not valid YAML: ") == true)
        #expect(invalid.errors.first?.line == 3)
        let duplicate = ConfigLoader.parse("drain: {timeout: 5}\ndrain: {timeout: 9}\n")
        #expect(duplicate.errors.map(\.description) == ["drain: duplicate key (line 2)"])
        #expect(duplicate.config.drain.timeout == .seconds(5), "the first stays")
        let nested = ConfigLoader.parse("quick_commands:\n  up: {type: exec, command: uptime, command: date}\n")
        #expect(nested.errors.map(\.path) == ["quick_commands.up.command"])
    }

    @Test("config files that are not text are refused with the reason")
    func fileErrors() throws {
        let directory = NSTemporaryDirectory() + "gatewayd-yaml-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = directory + "/binary.yaml"
        try Data([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]).write(to: URL(fileURLWithPath: binary))
        let notText = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: binary) }
        #expect(notText?.problems.first?.message == "not UTF-8 text")
        let huge = directory + "/huge.yaml"
        try Data(repeating: 0x23, count: ConfigLoader.maxFileSize + 1).write(to: URL(fileURLWithPath: huge))
        let tooLarge = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: huge) }
        #expect(tooLarge?.problems.first?.message.hasPrefix("larger than") == true)
        let unreadable = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: directory) }
        #expect(unreadable?.problems.first?.message.hasPrefix("cannot read: ") == true)
    }
}
