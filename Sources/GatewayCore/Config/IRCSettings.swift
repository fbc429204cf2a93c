/// `platforms.irc` values that the loader checks where it knows their lines (the adapter reads
/// the settings text itself, and checks the same way, with the same limits).
package enum IRCSettings {
    package static let reconnectMin = "reconnect_min"
    package static let reconnectMax = "reconnect_max"

    /// The first wait before reconnecting, doubled after each failure up to the maximum.
    package static let defaultReconnectMin: Duration = .seconds(1)
    package static let defaultReconnectMax: Duration = .seconds(60)

    /// Why `minimum` and `maximum` do not go together, nil when they do: a first wait above the
    /// longest is a contradiction (a typo, or a value meant for the other key).
    package static func reconnectProblem(minimum: Duration, maximum: Duration) -> String? {
        guard minimum > maximum else { return nil }
        return "\(reconnectMin) (\(DurationValue.describe(minimum))) is above \(reconnectMax) (\(DurationValue.describe(maximum)))"
    }

    /// Each duration within `ConfigLimits.durations`, and the first wait not above the longest,
    /// with key path and line.
    static func check(_ pairs: [(String, YAMLNode)], path: String, _ reader: inout Reader) {
        var values: [String: (duration: Duration, line: Int?)] = [:]
        var invalid = false
        for (key, value) in pairs where key == reconnectMin || key == reconnectMax {
            if let duration = reader.duration(value, "\(path).\(key)") { values[key] = (duration, value.line) } else { invalid = true }
        }
        guard !invalid, !values.isEmpty else { return }
        let minimum = values[reconnectMin]?.duration ?? defaultReconnectMin
        let maximum = values[reconnectMax]?.duration ?? defaultReconnectMax
        if let problem = reconnectProblem(minimum: minimum, maximum: maximum) {
            let key = values[reconnectMin] != nil ? reconnectMin : reconnectMax
            let defaulted = [reconnectMin, reconnectMax].first { values[$0] == nil }
            reader.error("\(path).\(key)", values[key]?.line, problem + (defaulted.map { "; \($0) is the default" } ?? ""))
        }
    }
}
