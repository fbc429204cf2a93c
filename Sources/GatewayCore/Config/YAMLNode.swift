/// A composed YAML document, as much of YAML as a config file needs: scalars (with their style,
/// so `"true"` stays text), sequences and mappings in file order, each with its 1-based line.
///
/// Why not Yams: it imports all of Foundation, which links ICU and Foundation's code into the
/// daemon — several MiB of resident memory for a file read once at start and on reload.
/// libyaml (Debian's `libyaml-dev`, the parser Yams wraps too) does the parsing here.
package indirect enum YAMLNode: Sendable, Equatable {
    case scalar(String, quoted: Bool, line: Int)
    case sequence([YAMLNode], line: Int)
    case mapping([(key: YAMLNode, value: YAMLNode)], line: Int)

    package static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case let (.scalar(a, qa, la), .scalar(b, qb, lb)): return a == b && qa == qb && la == lb
        case let (.sequence(a, la), .sequence(b, lb)): return a == b && la == lb
        case let (.mapping(a, la), .mapping(b, lb)):
            return la == lb && a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    package var line: Int {
        switch self {
        case .scalar(_, _, let line), .sequence(_, let line), .mapping(_, let line): return line
        }
    }

    /// The text of any scalar, quoted or not.
    package var string: String? {
        if case .scalar(let text, _, _) = self { return text }
        return nil
    }

    /// YAML 1.1's null: an empty plain scalar, `~` or `null`.
    package var isNull: Bool {
        guard case .scalar(let text, false, _) = self else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    /// YAML 1.1 booleans, plain scalars only (`"yes"` in quotes is text).
    package var bool: Bool? {
        guard case .scalar(let text, false, _) = self else { return nil }
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// Whole numbers written plainly: decimal with an optional sign and `_` separators, or 0x/0o.
    /// One sign at most, before the digits (`--5` and `0x-5` are not numbers): `Int(_:radix:)`
    /// takes a sign of its own, and `-0x-8000000000000000` negated `Int.min`, a trap that a
    /// `reload --check` of such a file turned into the running daemon's crash.
    package var int: Int? {
        guard case .scalar(var text, false, _) = self else { return nil }
        text.removeAll { $0 == "_" }
        var negative = false
        if let first = text.first, first == "-" || first == "+" {
            negative = first == "-"
            text.removeFirst()
        }
        var radix = 10
        if text.hasPrefix("0x") { radix = 16 } else if text.hasPrefix("0o") { radix = 8 }
        let digits = radix == 10 ? Substring(text) : text.dropFirst(2)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }),
              let magnitude = UInt(digits, radix: radix) else { return nil }
        // -9223372036854775808 is a whole number; 9223372036854775808 is not one an Int holds.
        if negative { return magnitude <= UInt(Int.max) + 1 ? Int(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt(Int.max) ? Int(magnitude) : nil
    }

    package var sequence: [YAMLNode]? {
        if case .sequence(let items, _) = self { return items }
        return nil
    }

    package var mapping: [(key: YAMLNode, value: YAMLNode)]? {
        if case .mapping(let pairs, _) = self { return pairs }
        return nil
    }

    /// One-line flow form (`[a, b]`, `{k: v}`), for settings kept as text.
    package var flowText: String {
        switch self {
        case .scalar(let text, _, _): return text
        case .sequence(let items, _): return "[" + items.map(\.flowText).joined(separator: ", ") + "]"
        case .mapping(let pairs, _):
            return "{" + pairs.map { "\($0.key.flowText): \($0.value.flowText)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Why a text is not YAML, with libyaml's own words and the 1-based line.
package struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    package let message: String
    package let line: Int?

    package var description: String {
        line.map { "\(message) (line \($0))" } ?? message
    }
}
