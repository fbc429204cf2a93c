extension ConfigLoader {
    /// `sessions`: `idle_timeout` (a duration) and `max` (a count), each checked against
    /// `ConfigLimits` with its line.
    static func readSessions(_ node: YAMLNode, into sessions: inout SessionsConfig, _ reader: inout ConfigReader) {
        for (key, value) in reader.entries(node, "sessions", allowed: ["idle_timeout", "max"]) {
            let path = "sessions.\(key)"
            switch key {
            case "max": if let count = reader.int(value, path, in: ConfigLimits.sessionsMax) { sessions.max = count }
            default: if let duration = reader.duration(value, path) { sessions.idleTimeout = duration }
            }
        }
    }
}
