/// A network platform's settings (`platforms.irc`, `platforms.webhook`), read by the adapter's
/// own module with the loader's `ConfigReader`. The core knows no platform's keys; each platform
/// knows its keys, types and ranges, and every problem it finds carries the key path and line,
/// in the same run as the rest of the file (`--check-config` lists them all).
package protocol PlatformSettings: Sendable {
    /// The key under `platforms`, and the `platform` of the adapter's messages.
    static var platform: String { get }
    /// Reads the section at `path`, recording every problem; nil when one of them is an error.
    /// Reads what the settings name (secret files), so that a check finds what a start would.
    static func read(_ node: YAMLNode, path: String, _ reader: inout ConfigReader) -> Self?
    /// The keys whose values differ from `old`'s, in a stable order; empty when none does.
    func changedKeys(from old: Self) -> [String]
    /// Whether a running adapter can take these settings in place of `old` without
    /// reconnecting (IRC's channels: a PART and a JOIN).
    func appliesInPlace(over old: Self) -> Bool
    /// What only the whole configuration shows (IRC admins over a plaintext connection).
    func warnings(for config: GatewayConfig, lines: ConfigLines) -> [ConfigProblem]
}

extension PlatformSettings {
    package func warnings(for config: GatewayConfig, lines: ConfigLines) -> [ConfigProblem] { [] }
    package func appliesInPlace(over old: Self) -> Bool { changedKeys(from: old).isEmpty }

    /// `changedKeys(from:)` for settings of unknown type: nil when `old` is another platform's.
    package func changedKeys(fromAny old: any PlatformSettings) -> [String]? {
        (old as? Self).map { changedKeys(from: $0) }
    }

    /// One section given as YAML text on its own (tests, benchmarks): every problem thrown.
    package static func parse(_ text: String) throws(ConfigError) -> Self {
        let path = "platforms.\(platform)"
        var reader = ConfigReader()
        let node: YAMLNode?
        do { node = try YAMLNode.parse(text) } catch {
            throw ConfigError(file: path, problems: [ConfigProblem(severity: .error, path: "", line: error.line, message: error.message)])
        }
        let settings = read(node ?? .mapping([], line: 1), path: path, &reader)
        guard let settings, reader.errorCount == 0 else { throw ConfigError(file: path, problems: reader.problems) }
        return settings
    }

    /// `appliesInPlace(over:)` for settings of unknown type: false when `old` is another platform's.
    package func appliesInPlace(overAny old: any PlatformSettings) -> Bool {
        (old as? Self).map { appliesInPlace(over: $0) } ?? false
    }
}

/// The lines of a parsed file's keys, for problems found after the section was read.
package struct ConfigLines: Sendable {
    let root: YAMLNode?

    package init(root: YAMLNode?) { self.root = root }

    /// The line of the value at a key path (`line("platforms", "irc", "sasl_user")`).
    package func line(_ path: String...) -> Int? {
        var node = root
        for key in path { node = node?.mapping?.first { $0.key.string == key }?.value }
        return node?.line
    }
}
