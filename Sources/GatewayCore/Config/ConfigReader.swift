/// Typed reads of YAML nodes that record what is wrong instead of throwing.
package struct ConfigReader {
    package var problems: [ConfigProblem] = []

    package init() {}

    /// Errors recorded so far (a section reader compares before and after to know whether its
    /// own part was valid).
    package var errorCount: Int { problems.count { $0.severity == .error } }

    package mutating func error(_ path: String, _ line: Int?, _ message: String) {
        problems.append(ConfigProblem(severity: .error, path: path, line: line, message: message))
    }

    package mutating func warning(_ path: String, _ line: Int?, _ message: String) {
        problems.append(ConfigProblem(severity: .warning, path: path, line: line, message: message))
    }

    /// `key` is not one the section knows: reported at the key's own line (not its value's,
    /// which for a nested mapping is the line below).
    package mutating func unknownKey(_ key: String, path: String, line: Int?) {
        let full = path.isEmpty ? key : "\(path).\(key)"
        error(full, line, "unknown key")
    }

    /// A mapping's (key, value) pairs in file order; nil (with a problem) when it is not a mapping.
    package mutating func mapping(_ node: YAMLNode, _ path: String) -> [(String, YAMLNode)]? {
        keyedMapping(node, path)?.map { ($0.key, $0.value) }
    }

    /// `mapping`, with each key's line.
    package mutating func keyedMapping(_ node: YAMLNode, _ path: String) -> [(key: String, keyLine: Int, value: YAMLNode)]? {
        if node.isNull { return [] }
        guard let mapping = node.mapping else {
            error(path, node.line, "expected a mapping (key: value lines)")
            return nil
        }
        var pairs: [(key: String, keyLine: Int, value: YAMLNode)] = []
        var seen: Set<String> = []
        for (key, value) in mapping {
            guard let name = key.string else {
                error(path, key.line, "keys must be plain text")
                continue
            }
            guard seen.insert(name).inserted else {
                // YAML forbids it, and silently taking the first or the last hides a mistake.
                error(path.isEmpty ? name : "\(path).\(name)", key.line, "duplicate key")
                continue
            }
            pairs.append((name, key.line, value))
        }
        return pairs
    }

    /// A mapping's entries, unknown keys reported.
    package mutating func entries(_ node: YAMLNode, _ path: String, allowed: Set<String>) -> [(String, YAMLNode)] {
        (keyedMapping(node, path) ?? []).compactMap { key, keyLine, value in
            if allowed.contains(key) { return (key, value) }
            unknownKey(key, path: path, line: keyLine)
            return nil
        }
    }

    package mutating func string(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = node.string else {
            error(path, node.line, "expected text")
            return nil
        }
        return text
    }

    package mutating func strings(_ node: YAMLNode, _ path: String) -> [String]? {
        guard let sequence = node.sequence else {
            error(path, node.line, "expected a list, such as [\"a\", \"b\"]")
            return nil
        }
        return sequence.compactMap { string($0, path) }
    }

    package mutating func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        guard let value = node.bool else {
            error(path, node.line, "expected true or false, got \((node.string ?? "").debugDescription)")
            return nil
        }
        return value
    }

    /// A whole number within `range` (`2^64`, `1e3`, `-1` and `0` for a count are refused with
    /// the range in the message, not wrapped or trapped on later).
    package mutating func int(_ node: YAMLNode, _ path: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = node.int, range.contains(value) else {
            error(path, node.line, "expected a whole number \(ConfigLimits.describe(range)), got \((node.string ?? "a list or mapping").debugDescription)")
            return nil
        }
        return value
    }

    /// A duration within `ConfigLimits.durations`: `inf`, `nan`, negative, `0` and `1e300`
    /// are refused here, so no consumer ever computes a deadline from them.
    package mutating func duration(_ node: YAMLNode, _ path: String) -> Duration? {
        let range = ConfigLimits.durations
        guard let text = node.string, let seconds = DurationValue.seconds(text) else {
            error(path, node.line, "expected a duration (seconds, or \"30s\", \"10m\", \"1h\") \(ConfigLimits.describe(range)), got \((node.string ?? "a list or mapping").debugDescription)")
            return nil
        }
        guard let duration = DurationValue.parse(text), range.contains(duration), seconds > 0 else {
            error(path, node.line, "duration out of range: must be \(ConfigLimits.describe(range)), got \(text.debugDescription)")
            return nil
        }
        return duration
    }

    package mutating func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ path: String, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, path) else { return nil }
        guard let value = T(rawValue: text) else {
            let options = T.allCases.map(\.rawValue).joined(separator: ", ")
            error(path, node.line, "expected one of \(options), got \(text.debugDescription)")
            return nil
        }
        return value
    }

    /// A number within `range`, finite (`inf`, `nan` and `1e400` are refused, not carried on).
    package mutating func double(_ node: YAMLNode, _ path: String, in range: ClosedRange<Double>, describe: String) -> Double? {
        guard case .scalar(let text, false, _) = node, let value = Double(text), value.isFinite, range.contains(value) else {
            error(path, node.line, "expected a number \(describe), got \((node.string ?? "a list or mapping").debugDescription)")
            return nil
        }
        return value
    }

    /// `host:port` (the last colon splits, so `[::1]:80` and `::1:80` keep their host), the port
    /// within `ports`; the host as written, for the caller to check.
    package mutating func hostPort(_ node: YAMLNode, _ path: String, ports: ClosedRange<Int>, example: String) -> (host: String, port: Int)? {
        guard let text = string(node, path) else { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), ports.contains(port),
              colon > text.startIndex else {
            error(path, node.line, "expected host:port such as \(example.debugDescription), got \(text.debugDescription)")
            return nil
        }
        return (String(text[..<colon]), port)
    }
}
