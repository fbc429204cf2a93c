extension StringProtocol {
    /// Without leading and trailing whitespace (Unicode's, newlines included), as Python's
    /// `str.strip()` gives the reference gateway — without pulling Foundation into the daemon.
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }

    var isBlank: Bool { allSatisfy(\.isWhitespace) }
}
