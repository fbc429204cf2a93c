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
        /// The file's fingerprint (`revision(of:)`), nil for the built-in defaults: says which
        /// file a running daemon applied (`gatewayd --check-config` prints a file's).
        package var revision: String?
        /// False for a file with no YAML document (empty, or only comments): the built-in
        /// defaults. A start may run them; a reload refuses (a file caught mid-write is empty).
        package var hasDocument = true

        package var errors: [ConfigProblem] { problems.filter { $0.severity == .error } }
        package var warnings: [ConfigProblem] { problems.filter { $0.severity == .warning } }
    }

    /// Loads `path`. A missing file gives the built-in defaults (a first run needs nothing);
    /// an unreadable or invalid one throws `ConfigError` with every error found.
    package static func load(path: String, requireFile: Bool = false, platforms: [any PlatformSettings.Type] = []) throws -> LoadedConfig {
        guard let bytes = try readBytes(path) else {
            if requireFile {
                throw ConfigError(file: path, problems: [ConfigProblem(
                    severity: .error, path: "", line: nil, message: "no such file")])
            }
            var config = GatewayConfig()
            config.stateDirectory = DefaultPaths.stateDirectory()
            return LoadedConfig(config: config, problems: [])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(file: path, problems: [ConfigProblem(severity: .error, path: "", line: nil, message: "not UTF-8 text")])
        }
        let outcome = load(text: text, platforms: platforms)
        if !outcome.errors.isEmpty { throw ConfigError(file: path, problems: outcome.problems) }
        return outcome
    }

    /// A file's text (sent by a client, not read here), checked as `load` checks a file: the
    /// problems are in the outcome.
    package static func load(text: String, platforms: [any PlatformSettings.Type]) -> LoadedConfig {
        var outcome = parse(text, platforms: platforms, stateDirectoryFallback: DefaultPaths.stateDirectory(), groupExists: systemGroupExists)
        outcome.revision = revision(of: text.utf8)
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

    /// 16 hex digits: the FNV-1a 64-bit hash of `bytes`. An identifier of the operator's own
    /// file, not a security check, so not SHA-256: BoringSSL's first use at start touched
    /// ~800 KiB more of the binary, past the 20 MiB idle budget.
    package static func revision(of bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The file's bytes; nil when there is no such file.
    private static func readBytes(_ path: String) throws(ConfigError) -> [UInt8]? {
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
        return bytes
    }

    /// Parses YAML text. Never throws: problems are in the outcome (with the defaults in place of
    /// anything invalid). `groupExists` checks `control.admin_group` (`load` asks the system; a
    /// text parsed on its own has no system to ask, so any name passes). `platforms`: the network
    /// platforms this build has, each reading its own section (any other is an unknown key).
    package static func parse(_ text: String, platforms: [any PlatformSettings.Type] = [], stateDirectoryFallback: String? = nil,
                             groupExists: (String) -> Bool = { _ in true }) -> LoadedConfig {
        var reader = ConfigReader()
        var config = GatewayConfig()
        if let stateDirectoryFallback { config.stateDirectory = stateDirectoryFallback }
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(text)
        } catch {
            reader.error("", error.line, "not valid YAML: \(error.message)")
            return LoadedConfig(config: config, problems: reader.problems)
        }
        guard let root else {
            var empty = LoadedConfig(config: config, problems: [])
            empty.hasDocument = false
            return empty
        }
        guard let top = reader.keyedMapping(root, "") else { return LoadedConfig(config: config, problems: reader.problems) }
        for (key, keyLine, value) in top {
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
            case "platforms": readPlatforms(value, into: &config.platforms, known: platforms, &reader)
            case "sessions": readSessions(value, into: &config.sessions, &reader)
            case "metrics": readMetrics(value, into: &config.metrics, &reader)
            case "state_dir":
                if let directory = reader.string(value, "state_dir") { config.stateDirectory = directory }
            default:
                reader.unknownKey(key, path: "", line: keyLine)
            }
        }
        checkOpenAdmins(config, root: root, &reader)
        let lines = ConfigLines(root: root)
        for name in config.platforms.network.keys.sorted() {
            reader.problems += config.platforms.network[name]?.warnings(for: config, lines: lines) ?? []
        }
        // In file order (a section's unknown keys are found before its values are read);
        // problems without a line keep their place after the located ones.
        let ordered = reader.problems.enumerated().sorted { a, b in
            (a.element.line ?? .max, a.offset) < (b.element.line ?? .max, b.offset)
        }.map(\.element)
        return LoadedConfig(config: config, problems: ordered)
    }

    private static func readControl(_ node: YAMLNode, into control: inout ControlConfig, _ reader: inout ConfigReader,
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

    private static func readExec(_ node: YAMLNode, into exec: inout ExecConfig, _ reader: inout ConfigReader) {
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

    private static func readQuickCommands(_ node: YAMLNode, _ reader: inout ConfigReader) -> [String: QuickCommand] {
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

    private static func readPlatforms(_ node: YAMLNode, into platforms: inout PlatformsConfig, known: [any PlatformSettings.Type],
                                      _ reader: inout ConfigReader) {
        let local = GatewayConstants.localPlatform
        let allowed = Set([local] + known.map { $0.platform })
        for (key, value) in reader.entries(node, "platforms", allowed: allowed) {
            let path = "platforms.\(key)"
            if key == local {
                for (k, v) in reader.entries(value, path, allowed: ["enabled"]) where k == "enabled" {
                    if let enabled = reader.bool(v, "\(path).enabled") { platforms.localEnabled = enabled }
                }
            } else if let type = known.first(where: { $0.platform == key }) {
                platforms.network[key] = type.read(value, path: path, &reader)
            }
        }
    }
}
