/// One thing wrong with a configuration file, located by key path and line.
package struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    package enum Severity: String, Sendable {
        /// The file is rejected (at start: exit 78; at reload: the old config stays).
        case error
        /// Reported, but the file is used (a broken quick command answers with its reason).
        case warning
    }

    package let severity: Severity
    /// `quick_commands.disk.timeout`; empty for the document itself.
    package let path: String
    package let line: Int?
    package let message: String

    /// `path` and `message` carry the file's own keys and values (an unknown key, a secret
    /// file's name): control characters in them are written out (`\u{1B}`), so a problem printed
    /// by `--check-config`, `gatewayctl reload --check` or the journal stays one line and cannot
    /// recolour the terminal or forge a line of its own.
    package init(severity: Severity, path: String, line: Int?, message: String) {
        self.severity = severity
        self.path = Self.visible(path)
        self.line = line
        self.message = Self.visible(message)
    }

    static func visible(_ text: String) -> String {
        func isControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        return text.unicodeScalars.map { isControl($0) ? "\\u{\(String($0.value, radix: 16, uppercase: true))}" : String($0) }.joined()
    }

    package var description: String {
        let location = line.map { " (line \($0))" } ?? ""
        return path.isEmpty ? "\(message)\(location)" : "\(path): \(message)\(location)"
    }
}

/// A configuration that cannot be used, with every problem found (not just the first).
package struct ConfigError: Error, Sendable, CustomStringConvertible {
    package let file: String
    package let problems: [ConfigProblem]

    package init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    package var description: String {
        "\(file): " + problems.filter { $0.severity == .error }.map(\.description).joined(separator: "; ")
    }
}
