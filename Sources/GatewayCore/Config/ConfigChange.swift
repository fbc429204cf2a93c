import GatewayWire
/// One section's difference between the running configuration and a file: what a reload
/// changes, and whether it can change without a restart. `gatewayctl reload --check` shows
/// these before anything is applied; the reload's reply and journal record show them after.
package struct ConfigChange: Sendable, Equatable {
    package enum Applies: Sendable {
        /// A reload puts it in force.
        case live
        /// A reload keeps the old value (`control.socket`, `state_dir`): only a restart applies it.
        case restart
        /// A reload tried and could not (a platform that would not start with its new settings).
        case failed

        /// Its name on the wire (`Wire.ConfigChange.Applies`).
        package var wireName: String {
            switch self {
            case .live: Wire.ConfigChange.Applies.live
            case .restart: Wire.ConfigChange.Applies.restart
            case .failed: Wire.ConfigChange.Applies.failed
            }
        }
    }

    /// `quick_commands`, `agent`, `platforms.irc`, `control.socket`, ...
    package var section: String
    /// What changed, for a person: `added disk; removed up`, `server, nick (reconnects)`.
    package var summary: String
    package var applies: Applies

    package init(section: String, summary: String, applies: Applies) {
        self.section = section
        self.summary = summary
        self.applies = applies
    }

    /// The keys a reload cannot change: the socket is bound and the store open for the
    /// process's life.
    package static let restartOnly = ["control.socket", "control.socket_mode", "state_dir", "metrics.listen"]

    /// Every section of `new` that differs from `old`, in the file's order of sections.
    package static func changes(from old: GatewayConfig, to new: GatewayConfig) -> [ConfigChange] {
        var changes: [ConfigChange] = []
        func note(_ section: String, _ summary: String?, _ applies: Applies = .live) {
            if let summary { changes.append(ConfigChange(section: section, summary: summary, applies: applies)) }
        }
        func value<T: Equatable>(_ a: T, _ b: T, _ describe: (T) -> String) -> String? {
            a == b ? nil : "\(describe(a)) → \(describe(b))"
        }
        let duration = { (d: Duration) in DurationValue.describe(d) }
        note("control.socket", value(old.control.socket, new.control.socket) { $0 }, .restart)
        note("control.socket_mode", value(old.control.socketMode, new.control.socketMode) { "0" + String($0, radix: 8) }, .restart)
        note("control.admin_group", value(old.control.adminGroup, new.control.adminGroup) { $0 ?? "none" })
        note("state_dir", value(old.stateDirectory, new.stateDirectory) { $0 }, .restart)
        note("drain.timeout", value(old.drain.timeout, new.drain.timeout, duration))
        note("busy_input_mode", value(old.busyInputMode, new.busyInputMode) { $0.rawValue })
        note("agent", agentChange(old.agent, new.agent))
        note("exec", keyed([
            ("max_concurrent", value(old.exec.maxConcurrent, new.exec.maxConcurrent) { "\($0)" }),
            ("default_timeout", value(old.exec.defaultTimeout, new.exec.defaultTimeout, duration)),
            ("max_output", value(old.exec.maxOutput, new.exec.maxOutput) { "\($0)" }),
        ]))
        note("quick_commands", namedChanges(old.quickCommands, new.quickCommands))
        note("sessions", keyed([
            ("idle_timeout", value(old.sessions.idleTimeout, new.sessions.idleTimeout, duration)),
            ("max", value(old.sessions.max, new.sessions.max) { "\($0)" }),
        ]))
        note("access", keyed([
            ("allowed_users", listChange(old.access.allowedUsers, new.access.allowedUsers)),
            ("admins", listChange(old.access.admins, new.access.admins)),
        ]))
        note("metrics.listen", value(old.metrics.listen, new.metrics.listen) { $0?.description ?? "off" }, .restart)
        note("platforms.local", value(old.platforms.localEnabled, new.platforms.localEnabled) { $0 ? "enabled" : "disabled" })
        for name in Set(old.platforms.network.keys).union(new.platforms.network.keys).sorted() {
            note("platforms.\(name)", platformChange(old.platforms.network[name], new.platforms.network[name]))
        }
        return changes
    }

    private static func agentChange(_ old: AgentConfig, _ new: AgentConfig) -> String? {
        keyed([
            ("backend", old.backend == new.backend ? nil : "\(old.backend.rawValue) → \(new.backend.rawValue)"),
            ("command", old.command == new.command ? nil : "changed"),
            ("turn_timeout", old.turnTimeout == new.turnTimeout ? nil
                : "\(DurationValue.describe(old.turnTimeout)) → \(DurationValue.describe(new.turnTimeout))"),
        ]).map { $0 + " (for turns that start from now)" }
    }

    /// `added a, b; removed c; changed d`.
    private static func namedChanges<T: Equatable>(_ old: [String: T], _ new: [String: T]) -> String? {
        let added = new.keys.filter { old[$0] == nil }.sorted()
        let removed = old.keys.filter { new[$0] == nil }.sorted()
        let changed = new.keys.filter { old[$0] != nil && old[$0] != new[$0] }.sorted()
        let parts = [("added", added), ("removed", removed), ("changed", changed)].compactMap { label, names in
            names.isEmpty ? nil : "\(label) \(names.joined(separator: ", "))"
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    private static func listChange(_ old: [String], _ new: [String]) -> String? {
        guard old != new else { return nil }
        let added = new.filter { !old.contains($0) }.count, removed = old.filter { !new.contains($0) }.count
        return added + removed == 0 ? "reordered" : "\(added) added, \(removed) removed"
    }

    private static func platformChange(_ old: (any PlatformSettings)?, _ new: (any PlatformSettings)?) -> String? {
        switch (old, new) {
        case (nil, nil): return nil
        case (nil, _): return "added (starts)"
        case (_, nil): return "removed (stops)"
        case let (old?, new?):
            guard let keys = new.changedKeys(fromAny: old), !keys.isEmpty else { return nil }
            return keys.joined(separator: ", ") + (new.appliesInPlace(overAny: old) ? " (in place)" : " (reconnects)")
        }
    }

    /// `max_concurrent 8 → 4, default_timeout 30s → 1m`.
    private static func keyed(_ parts: [(String, String?)]) -> String? {
        let present = parts.compactMap { key, change in change.map { "\(key) \($0)" } }
        return present.isEmpty ? nil : present.joined(separator: ", ")
    }
}

/// What a reload did (or, checked, would do).
package struct ReloadOutcome: Sendable {
    /// False for a check.
    package var applied: Bool
    /// The file's revision; nil for the built-in defaults.
    package var revision: String?
    package var changes: [ConfigChange]
    package var warnings: [ConfigProblem]

    package init(applied: Bool, revision: String?, changes: [ConfigChange], warnings: [ConfigProblem]) {
        self.applied = applied
        self.revision = revision
        self.changes = changes
        self.warnings = warnings
    }
}

/// The running configuration as `GetStatus` shows it.
package struct AppliedConfig: Sendable, Equatable {
    /// nil for the built-in defaults.
    package var revision: String?
    /// When it was applied (start or reload), microseconds since the epoch.
    package var loadedUsec: Int
    /// Keys the file changed that keep their old values until a restart.
    package var restartNeeded: [String]

    package init(revision: String?, loadedUsec: Int, restartNeeded: [String] = []) {
        self.revision = revision
        self.loadedUsec = loadedUsec
        self.restartNeeded = restartNeeded
    }
}
