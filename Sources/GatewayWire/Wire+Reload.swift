import JSON

extension Wire {
    /// `Reload`: apply the daemon's file, or with `check` only compare a file with what runs.
    package enum Reload: WireMethod {
        package static var method: Method { .reload }

        package struct Parameters: WireObject {
            package static var wireType: String { "(check: ?bool, config_text: ?string)" }
            /// Validate and compare only; nothing is applied.
            package var check: Bool?
            /// With `check`: the text of another file to validate (the caller reads it; the
            /// daemon reads no path a client names). Without: the daemon's own file.
            package var configText: String?

            enum Key: String { case check, configText = "config_text" }

            package init(check: Bool? = nil, configText: String? = nil) {
                self.check = check
                self.configText = configText
            }

            package init(reading object: WireReader) throws(WireDecodingError) {
                check = try object.optional(Key.check)
                configText = try object.optional(Key.configText)
            }

            package func write(to object: inout WireWriter) {
                object.set(Key.check, check)
                object.set(Key.configText, configText)
            }
        }

        package struct Result: WireObject {
            package static var wireType: String {
                "(status: Status, applied: ?bool, revision: ?string, changes: ?[]ConfigChange, problems: ?[]ConfigProblem)"
            }
            package var status: Status
            /// False for a check.
            package var applied: Bool?
            /// The file's revision (16 hex digits, as `gatewayd --check-config` prints it).
            package var revision: String?
            package var changes: [ConfigChange]?
            /// The file's warnings (its errors come as `ConfigInvalid`).
            package var problems: [ConfigProblem]?

            enum Key: String { case status, applied, revision, changes, problems }

            package init(status: Status, applied: Bool? = nil, revision: String? = nil, changes: [ConfigChange]? = nil,
                        problems: [ConfigProblem]? = nil) {
                self.status = status
                self.applied = applied
                self.revision = revision
                self.changes = changes
                self.problems = problems
            }

            package init(reading object: WireReader) throws(WireDecodingError) {
                status = try object.required(Key.status)
                applied = try object.optional(Key.applied)
                revision = try object.optional(Key.revision)
                changes = try object.optional(Key.changes)
                problems = try object.optional(Key.problems)
            }

            package func write(to object: inout WireWriter) {
                object.set(Key.status, status)
                object.set(Key.applied, applied)
                object.set(Key.revision, revision)
                object.set(Key.changes, changes)
                object.set(Key.problems, problems)
            }

            /// Some change needs a restart (its old value stays until then).
            package var needsRestart: Bool { (changes ?? []).contains { $0.applies == ConfigChange.Applies.restart } }
            /// Some change could not be applied.
            package var failed: Bool { (changes ?? []).contains { $0.applies == ConfigChange.Applies.failed } }
        }
    }

    /// Keys a reload read but kept at their old values, as the daemon (STATUS=, the journal) and
    /// gatewayctl word them.
    package static func restartToApply(_ keys: [String]) -> String {
        "restart to apply \(keys.joined(separator: ", "))"
    }

    /// One section that differs between the running configuration and a file.
    package struct ConfigChange: WireObject {
        package static var wireType: String { "ConfigChange" }
        package var section: String
        package var summary: String
        /// live, restart or failed (`Applies`).
        package var applies: String

        package enum Applies {
            package static let live = "live"
            package static let restart = "restart"
            /// A reload tried and could not (a platform that would not start with its new settings).
            package static let failed = "failed"
        }

        enum Key: String { case section, summary, applies }

        package init(section: String, summary: String, applies: String) {
            self.section = section
            self.summary = summary
            self.applies = applies
        }

        package init(reading object: WireReader) throws(WireDecodingError) {
            section = try object.required(Key.section)
            summary = try object.required(Key.summary)
            applies = try object.required(Key.applies)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.section, section)
            object.set(Key.summary, summary)
            object.set(Key.applies, applies)
        }
    }

    /// One problem of a configuration file.
    package struct ConfigProblem: WireObject, Equatable {
        package static var wireType: String { "ConfigProblem" }
        /// error or warning.
        package var severity: String
        /// The key path (`platforms.irc.chanels`); empty for the file itself.
        package var path: String
        package var line: Int?
        package var message: String

        enum Key: String { case severity, path, line, message }

        package init(severity: String, path: String, line: Int?, message: String) {
            self.severity = severity
            self.path = path
            self.line = line
            self.message = message
        }

        package init(reading object: WireReader) throws(WireDecodingError) {
            severity = try object.required(Key.severity)
            path = try object.required(Key.path)
            line = try object.optional(Key.line)
            message = try object.required(Key.message)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.severity, severity)
            object.set(Key.path, path)
            object.set(Key.line, line)
            object.set(Key.message, message)
        }

        /// `platforms.irc.chanels: unknown key (line 14)`, as `--check-config` prints it.
        package var text: String {
            let location = line.map { " (line \($0))" } ?? ""
            return path.isEmpty ? "\(message)\(location)" : "\(path): \(message)\(location)"
        }
    }
}
