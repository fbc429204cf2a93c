import Glibc

/// Reads `gatewayd.yaml` into a `GatewayConfig`, collecting every problem with its key path and
/// line instead of stopping at the first, so `gatewayd --check-config` can list them all.
package enum ConfigLoader {
    /// The configuration read (built-in defaults where the file is silent) and every problem
    /// found on the way.
    package struct LoadedConfig: Sendable {
        package let config: GatewayConfig
        /// Errors and warnings, in file order.
        package let problems: [ConfigProblem]

        package var errors: [ConfigProblem] { problems.filter { $0.severity == .error } }
        package var warnings: [ConfigProblem] { problems.filter { $0.severity == .warning } }
    }

    /// Loads `path`. A missing file gives the built-in defaults (a first run needs nothing);
    /// an unreadable or invalid one throws `ConfigError` with every error found.
    package static func load(path: String, requireFile: Bool = false) throws -> LoadedConfig {
        guard let text = try readText(path) else {
            if requireFile {
                throw ConfigError(file: path, problems: [ConfigProblem(
                    severity: .error, path: "", line: nil, message: "no such file")])
            }
            var config = GatewayConfig()
            config.stateDirectory = DefaultPaths.stateDirectory()
            return LoadedConfig(config: config, problems: [])
        }
        let outcome = parse(text, stateDirectoryFallback: DefaultPaths.stateDirectory(), groupExists: systemGroupExists)
        if !outcome.errors.isEmpty { throw ConfigError(file: path, problems: outcome.problems) }
        return outcome
    }

    /// Whether the system's group database knows `name` (getgrnam_r, so no static buffer is shared).
    static func systemGroupExists(_ name: String) -> Bool {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        return getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0 && result != nil
    }

    /// A config file larger than this is refused rather than read (it is surely not one).
    static let maxFileSize = 4 << 20

    /// The file as UTF-8 text; nil when there is no such file.
    private static func readText(_ path: String) throws(ConfigError) -> String? {
        func problem(_ message: String) -> ConfigError {
            ConfigError(file: path, problems: [ConfigProblem(severity: .error, path: "", line: nil, message: message)])
        }
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path, limit: maxFileSize)
        } catch .system(ENOENT) {
            return nil
        } catch .tooLarge {
            throw problem("larger than \(maxFileSize >> 20) MiB; not a config file")
        } catch {
            throw problem("cannot read: \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw problem("not UTF-8 text") }
        return text
    }

    /// Parses YAML text. Never throws: problems are in the outcome (with the defaults in place of
    /// anything invalid). `groupExists` checks `control.admin_group` (`load` asks the system; a
    /// text parsed on its own has no system to ask, so any name passes).
    package static func parse(_ text: String, stateDirectoryFallback: String? = nil,
                             groupExists: (String) -> Bool = { _ in true }) -> LoadedConfig {
        var reader = Reader()
        var config = GatewayConfig()
        if let stateDirectoryFallback { config.stateDirectory = stateDirectoryFallback }
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(text)
        } catch {
            reader.error("", error.line, "not valid YAML: \(error.message)")
            return LoadedConfig(config: config, problems: reader.problems)
        }
        guard let root else { return LoadedConfig(config: config, problems: []) }
        guard let top = reader.mapping(root, "") else { return LoadedConfig(config: config, problems: reader.problems) }
        for (key, value) in top {
            switch key {
            case "control": readControl(value, into: &config.control, &reader, groupExists: groupExists)
            case "drain":
                for (k, v) in reader.entries(value, "drain", allowed: ["timeout"]) where k == "timeout" {
                    if let duration = reader.duration(v, "drain.timeout") { config.drain.timeout = duration }
                }
            case "busy_input_mode":
                if let mode = reader.choice(value, "busy_input_mode", BusyInputMode.self) { config.busyInputMode = mode }
            case "agent": readAgent(value, into: &config.agent, &reader)
            case "exec": readExec(value, into: &config.exec, &reader)
            case "quick_commands": config.quickCommands = readQuickCommands(value, &reader)
            case "access": readAccess(value, into: &config.access, &reader)
            case "platforms": readPlatforms(value, into: &config.platforms, &reader)
            case "sessions": readSessions(value, into: &config.sessions, &reader)
            case "state_dir":
                if let directory = reader.string(value, "state_dir") { config.stateDirectory = directory }
            default:
                reader.unknownKey(key, path: "", value)
            }
        }
        checkOpenAdmins(config, root: root, &reader)
        checkIRCTransport(config, root: root, &reader)
        return LoadedConfig(config: config, problems: reader.problems)
    }

    private static func readControl(_ node: YAMLNode, into control: inout ControlConfig, _ reader: inout Reader,
                                    groupExists: (String) -> Bool) {
        for (key, value) in reader.entries(node, "control", allowed: ["socket", "socket_mode", "admin_group"]) {
            let path = "control.\(key)"
            switch key {
            case "socket": if let socket = reader.string(value, path) { control.socket = socket }
            case "socket_mode":
                guard let text = reader.string(value, path) else { continue }
                if let mode = UInt32(text, radix: 8), mode <= 0o777 {
                    control.socketMode = mode
                } else {
                    reader.error(path, value.line, "expected an octal mode such as \"0660\", got \(text.debugDescription)")
                }
            default:
                control.adminGroup = reader.string(value, path)
                // Refused here rather than ignored when the socket is bound: its members would
                // silently be denied every changing method.
                if let group = control.adminGroup, !groupExists(group) {
                    reader.error(path, value.line, "no such group \(group.debugDescription) on this system")
                }
            }
        }
    }

    private static func readAgent(_ node: YAMLNode, into agent: inout AgentConfig, _ reader: inout Reader) {
        for (key, value) in reader.entries(node, "agent", allowed: ["backend", "command", "turn_timeout"]) {
            let path = "agent.\(key)"
            switch key {
            case "backend": if let backend = reader.choice(value, path, AgentConfig.Backend.self) { agent.backend = backend }
            case "command": agent.command = reader.strings(value, path) ?? []
            default: if let duration = reader.duration(value, path) { agent.turnTimeout = duration }
            }
        }
        if agent.backend == .command && agent.command.isEmpty {
            reader.error("agent.command", node.line, "backend 'command' needs a command (an argv list)")
        }
    }

    private static func readExec(_ node: YAMLNode, into exec: inout ExecConfig, _ reader: inout Reader) {
        for (key, value) in reader.entries(node, "exec", allowed: ["max_concurrent", "default_timeout", "max_output"]) {
            let path = "exec.\(key)"
            switch key {
            case "max_concurrent":
                if let count = reader.int(value, path, in: ConfigLimits.maxConcurrent) { exec.maxConcurrent = count }
            case "max_output": if let bytes = reader.int(value, path, in: ConfigLimits.maxOutput) { exec.maxOutput = bytes }
            default: if let duration = reader.duration(value, path) { exec.defaultTimeout = duration }
            }
        }
    }

    private static func readQuickCommands(_ node: YAMLNode, _ reader: inout Reader) -> [String: QuickCommand] {
        guard let entries = reader.mapping(node, "quick_commands") else { return [:] }
        var commands: [String: QuickCommand] = [:]
        for (name, value) in entries {
            let path = "quick_commands.\(name)"
            let key = name.lowercased()
            if key != name || name.contains("/") || name.contains(" ") || name.isEmpty {
                reader.error(path, value.line, "a command name is matched lowercased and without '/' or spaces; use \(key.debugDescription)")
                continue
            }
            var type: String?
            var command: String?
            var target: String?
            var entry = QuickCommand(name: name, kind: .invalid(reply: GatewayText.unsupportedType(name)))
            for (field, fieldValue) in reader.entries(value, path, allowed: ["type", "command", "target", "args", "timeout", "description"]) {
                let fieldPath = "\(path).\(field)"
                switch field {
                case "type": type = reader.string(fieldValue, fieldPath)
                case "command": command = reader.string(fieldValue, fieldPath)
                case "target": target = reader.string(fieldValue, fieldPath)
                case "args":
                    guard let mode = reader.string(fieldValue, fieldPath) else { continue }
                    if mode == "pass" { entry.passArguments = true } else if mode != "ignore" {
                        reader.error(fieldPath, fieldValue.line, "expected pass or ignore, got \(mode.debugDescription)")
                    }
                case "timeout": entry.timeout = reader.duration(fieldValue, fieldPath)
                default: entry.description = reader.string(fieldValue, fieldPath)
                }
            }
            let line = value.line
            switch type {
            case "exec":
                if let command, !command.isBlank {
                    entry.kind = .exec(command: command)
                } else {
                    entry.kind = .invalid(reply: GatewayText.noCommandDefined(name))
                    reader.warning(path, line, "type exec needs a command; /\(name) will answer that it has none")
                }
            case "alias":
                if let target, !target.isBlank {
                    entry.kind = .alias(target: target)
                } else {
                    entry.kind = .invalid(reply: GatewayText.noTargetDefined(name))
                    reader.warning(path, line, "type alias needs a target; /\(name) will answer that it has none")
                }
            default:
                // An error, not a warning: a typo such as `exce` would otherwise start a daemon
                // whose command only ever answers that its type is unsupported.
                reader.error(path, line, "\(GatewayText.unsupportedType(name)) Got \((type ?? "no type").debugDescription).")
            }
            commands[key] = entry
        }
        return commands
    }

    private static func readPlatforms(_ node: YAMLNode, into platforms: inout PlatformsConfig, _ reader: inout Reader) {
        for (key, value) in reader.entries(node, "platforms", allowed: ["local", "irc", "webhook"]) {
            let path = "platforms.\(key)"
            switch key {
            case "local":
                for (k, v) in reader.entries(value, path, allowed: ["enabled"]) where k == "enabled" {
                    if let enabled = reader.bool(v, "\(path).enabled") { platforms.localEnabled = enabled }
                }
            default:
                // Kept as text until the adapters (IRC, webhook) read them.
                var settings: [String: String] = [:]
                let pairs = reader.mapping(value, path) ?? []
                if key == "webhook" { WebhookSettings.check(pairs, path: path, &reader) }
                if key == "irc" { IRCSettings.check(pairs, path: path, &reader) }
                for (k, v) in pairs {
                    settings[k] = v.flowText
                }
                if key == "irc" { platforms.irc = settings } else { platforms.webhook = settings }
            }
        }
    }
}

/// Typed reads of YAML nodes that record what is wrong instead of throwing.
struct Reader {
    var problems: [ConfigProblem] = []

    mutating func error(_ path: String, _ line: Int?, _ message: String) {
        problems.append(ConfigProblem(severity: .error, path: path, line: line, message: message))
    }

    mutating func warning(_ path: String, _ line: Int?, _ message: String) {
        problems.append(ConfigProblem(severity: .warning, path: path, line: line, message: message))
    }

    mutating func unknownKey(_ key: String, path: String, _ node: YAMLNode) {
        let full = path.isEmpty ? key : "\(path).\(key)"
        error(full, node.line, "unknown key")
    }

    /// A mapping's (key, value) pairs in file order; nil (with a problem) when it is not a mapping.
    mutating func mapping(_ node: YAMLNode, _ path: String) -> [(String, YAMLNode)]? {
        if node.isNull { return [] }
        guard let mapping = node.mapping else {
            error(path, node.line, "expected a mapping (key: value lines)")
            return nil
        }
        var pairs: [(String, YAMLNode)] = []
        var seen: Set<String> = []
        for (key, value) in mapping {
            guard let name = key.string else {
                error(path, key.line, "keys must be plain text")
                continue
            }
            guard seen.insert(name).inserted else {
                // YAML forbids it, and silently taking the first or the last hides a mistake.
                error(path.isEmpty ? name : "\(path).\(name)", key.line, "duplicate key")
                continue
            }
            pairs.append((name, value))
        }
        return pairs
    }

    /// A mapping's entries, unknown keys reported.
    mutating func entries(_ node: YAMLNode, _ path: String, allowed: Set<String>) -> [(String, YAMLNode)] {
        (mapping(node, path) ?? []).filter { key, value in
            if allowed.contains(key) { return true }
            unknownKey(key, path: path, value)
            return false
        }
    }

    mutating func string(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = node.string else {
            error(path, node.line, "expected text")
            return nil
        }
        return text
    }

    mutating func strings(_ node: YAMLNode, _ path: String) -> [String]? {
        guard let sequence = node.sequence else {
            error(path, node.line, "expected a list, such as [\"a\", \"b\"]")
            return nil
        }
        return sequence.compactMap { string($0, path) }
    }

    mutating func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        guard let value = node.bool else {
            error(path, node.line, "expected true or false, got \((node.string ?? "").debugDescription)")
            return nil
        }
        return value
    }

    /// A whole number within `range` (`2^64`, `1e3`, `-1` and `0` for a count are refused with
    /// the range in the message, not wrapped or trapped on later).
    mutating func int(_ node: YAMLNode, _ path: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = node.int, range.contains(value) else {
            error(path, node.line, "expected a whole number \(ConfigLimits.describe(range)), got \((node.string ?? "a list or mapping").debugDescription)")
            return nil
        }
        return value
    }

    /// A duration within `ConfigLimits.durations`: `inf`, `nan`, negative, `0` and `1e300`
    /// are refused here, so no consumer ever computes a deadline from them.
    mutating func duration(_ node: YAMLNode, _ path: String) -> Duration? {
        let range = ConfigLimits.durations
        guard let text = node.string, let seconds = DurationValue.seconds(text) else {
            error(path, node.line, "expected a duration (seconds, or \"30s\", \"10m\", \"1h\") \(ConfigLimits.describe(range)), got \((node.string ?? "a list or mapping").debugDescription)")
            return nil
        }
        guard let duration = DurationValue.parse(text), range.contains(duration), seconds > 0 else {
            error(path, node.line, "duration out of range: must be \(ConfigLimits.describe(range)), got \(text.debugDescription)")
            return nil
        }
        return duration
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ path: String, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, path) else { return nil }
        guard let value = T(rawValue: text) else {
            let options = T.allCases.map(\.rawValue).joined(separator: ", ")
            error(path, node.line, "expected one of \(options), got \(text.debugDescription)")
            return nil
        }
        return value
    }
}
