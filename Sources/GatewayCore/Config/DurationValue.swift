/// Durations in the config: a number of seconds (`30`, as the reference gateway writes them) or a
/// string with units (`"30s"`, `"10m"`, `"1h30m"`, `"500ms"`).
public enum DurationValue {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingWhitespace
        if let seconds = Double(trimmed) { return seconds >= 0 ? .milliseconds(Int64(seconds * 1000)) : nil }
        var total: Duration = .zero
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let value = Double(number), value >= 0 else { return false }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86400
            default: return false
            }
            total += .milliseconds(Int64(value * scale * 1000))
            number = ""
            unit = ""
            sawAny = true
            return true
        }
        for character in trimmed {
            if character.isNumber || character == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else if character.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard !number.isEmpty, flush(), sawAny else { return nil }
        return total
    }

    /// Whole microseconds, as the wire and the journal count durations (`duration_usec`).
    public static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// Whole seconds, rounded up, for messages such as "timed out (30s)".
    public static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}
