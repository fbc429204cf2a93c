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

    package init(severity: Severity, path: String, line: Int?, message: String) {
        self.severity = severity
        self.path = path
        self.line = line
        self.message = message
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
