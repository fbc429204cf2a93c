import GatewayCore

extension PlatformSettings {
    /// Settings as a test writes them: each value as it would stand in the file (`"true"`,
    /// `"[\"#ops\"]"`); a value holding control characters or starting with a YAML indicator is
    /// written double-quoted with escapes, so it reaches the reader as the same text.
    static func reading(_ settings: [String: String]) throws(ConfigError) -> Self {
        try parse(settings.sorted { $0.key < $1.key }.map { "\($0.key): \(yamlValue($0.value))" }.joined(separator: "\n"))
    }

    private static func yamlValue(_ value: String) -> String {
        if value.hasPrefix("[") { return value }
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
            || "#:,&*!|>'\"%@`{}".contains(value.first!) || value.contains(": ") || value.contains(" #")
        guard needsQuotes else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: quoted += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
