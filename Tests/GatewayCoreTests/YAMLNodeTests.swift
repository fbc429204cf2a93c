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

    @Test("anchors and aliases resolve; an unknown alias is an error with its line")
    func aliases() throws {
        let node = try #require(try YAMLNode.parse("base: &b {timeout: 5}\nother: *b\n"))
        #expect(node.mapping?[1].value.mapping?.first?.value.int == 5)
        let error = #expect(throws: YAMLError.self) { try YAMLNode.parse("a: 1\nb: *nowhere\n") }
        #expect(error?.line == 2)
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
