/// Durations in the config: a number of seconds (`30`, as the reference gateway writes them) or a
/// string with units (`"30s"`, `"10m"`, `"1h30m"`, `"500ms"`).
package enum DurationValue {
    /// The duration `text` names, nil when it names none: not a number with units, negative,
    /// NaN or infinite, or too large for whole milliseconds in 64 bits (`1e300`). Never traps
    /// (`Int64(Double.infinity)` would); the config's own range is `ConfigLimits.durations`.
    package static func parse(_ text: String) -> Duration? {
        guard let seconds = seconds(text), seconds <= maxSeconds else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Whole milliseconds in an Int64 reach this far (≈292 million years), with room to spare.
    static let maxSeconds = 9e15

    /// The number of seconds `text` names (finite and not negative), before any range check.
    package static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingWhitespace
        if let seconds = Double(trimmed) { return seconds.isFinite && seconds >= 0 ? seconds : nil }
        var total = 0.0
        var number = ""
        var unit = ""
        func flush() -> Bool {
            guard let value = Double(number), value.isFinite, value >= 0 else { return false }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86400
            default: return false
            }
            total += value * scale
            number = ""
            unit = ""
            return true
        }
        for character in trimmed {
            if character.isASCII && (character.isNumber || character == ".") {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else if character.isASCII && character.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard !number.isEmpty, flush(), total.isFinite else { return nil }
        return total
    }

    /// Whole microseconds, as the wire and the journal count durations (`duration_usec`);
    /// saturates at Int64's bounds instead of trapping.
    package static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowed) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000)
        return overflowed ? (seconds < 0 ? .min : .max) : sum
    }

    /// Whole seconds, rounded up, for messages such as "timed out (30s)".
    package static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) + (attoseconds > 0 && seconds < .max ? 1 : 0)
    }

    /// The short form used in messages: `1ms`, `30s`, `30d`.
    package static func describe(_ duration: Duration) -> String {
        let milliseconds = microseconds(duration) / 1000
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds >= size && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
