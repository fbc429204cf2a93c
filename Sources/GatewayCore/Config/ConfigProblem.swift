/// One thing wrong with a configuration file, located by key path and line.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        /// The file is rejected (at start: exit 78; at reload: the old config stays).
        case error
        /// Reported, but the file is used (a broken quick command answers with its reason).
        case warning
    }

    public let severity: Severity
    /// `quick_commands.disk.timeout`; empty for the document itself.
    public let path: String
    public let line: Int?
    public let message: String

    public init(severity: Severity, path: String, line: Int?, message: String) {
        self.severity = severity
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = line.map { " (line \($0))" } ?? ""
        return path.isEmpty ? "\(message)\(location)" : "\(path): \(message)\(location)"
    }
}

/// A configuration that cannot be used, with every problem found (not just the first).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let problems: [ConfigProblem]

    public init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        "\(file): " + problems.filter { $0.severity == .error }.map(\.description).joined(separator: "; ")
    }
}
