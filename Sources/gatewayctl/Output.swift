import GatewayWire
import JSON
#if canImport(Glibc)
import Glibc
#endif

/// Text and JSON output in one place.
enum Output {
    /// One line of compact JSON, keys sorted (`--json`).
    static func json(_ value: some WireField) { json(value.wireValue) }

    static func json(_ value: JSONValue) {
        print(String(decoding: value.serialized(), as: UTF8.self))
    }

    /// Straight to fd 2, unbuffered, as the line is complete.
    static func error(_ text: String, newline: Bool = true) {
        var bytes = Array(escapingControls(text, when: isatty(STDERR_FILENO) == 1).utf8)
        if newline { bytes.append(UInt8(ascii: "\n")) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// Text as a terminal may show it: control characters other than newline and tab (C0, DEL,
    /// C1) written out as `\x1B`, `\u{9B}`, so that a chat name, a channel or a reply cannot
    /// move the cursor, retitle the window or recolour the operator's terminal. Only `when` the
    /// output is a terminal: a script reading a pipe gets the bytes as they are (and `--json`
    /// escapes them anyway).
    static func escapingControls(_ text: String, when terminal: Bool) -> String {
        guard terminal, text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if !isControl(scalar) {
                result.unicodeScalars.append(scalar)
            } else if scalar.value < 0x80 {
                result += "\\x" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2)
            } else {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A: false
        case 0x00..<0x20, 0x7F, 0x80..<0xA0: true
        // Bidirectional overrides and isolates (text that displays in another order than it
        // reads), and the Unicode line and paragraph separators.
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: true
        default: false
        }
    }

    /// The reply of the methods that answer with the status.
    static func stateReply(_ reply: Wire.StatusResult, _ options: ClientOptions) {
        options.json ? json(reply.status) : print(progress(reply.status))
    }

    /// `draining (admin): 2 turns, 1 exec`.
    static func progress(_ status: Wire.Status) -> String {
        let reason = status.reason.map { " (\($0))" } ?? ""
        let turns = status.turnsInFlight
        return "\(status.state)\(reason): \(turns) turn\(turns == 1 ? "" : "s"), \(status.execRunning) exec"
    }

    /// A short systemctl-like summary.
    static func statusText(_ status: Wire.Status) -> String {
        let reason = status.reason.map { " (\($0))" } ?? ""
        let bullet = status.state == "running" ? "●" : "○"
        var platforms = status.platforms.joined(separator: ", ")
        if let health = status.platformHealth, !health.isEmpty {
            platforms = health.map { "\($0.name) (\($0.health): \($0.detail))" }.joined(separator: "\n           ")
        }
        let durability = status.storeProblem.map { "\n  Durable: NO, queued messages are lost on a restart: \($0)" } ?? ""
        var agent = status.agentBackend.map { "\n    Agent: \($0)" } ?? ""
        for (index, endpoint) in (status.agentEndpoints ?? []).enumerated() {
            let count = endpoint.consecutiveFailures
            let failures = count > 0 ? ", \(count) failure\(count == 1 ? "" : "s") in a row" : ""
            let last = endpoint.lastError.map { "\n             last error: \($0)" + (endpoint.lastErrorUsec.map { " (\(timestamp($0)))" } ?? "") } ?? ""
            agent += (index == 0 ? " " : "\n           ") + "\(endpoint.baseURL) (\(endpoint.model)): breaker \(endpoint.breaker)\(failures)\(last)"
        }
        var config = ""
        if let revision = status.configRevision {
            config = "\n   Config: " + (revision == Wire.Status.defaultsRevision ? "built-in defaults" : "revision \(revision)")
            if let loaded = status.configLoadedUsec { config += ", applied \(timestamp(loaded))" }
        }
        if let keys = status.restartNeeded, !keys.isEmpty {
            config += "\n           changed in the file, \(Wire.restartToApply(keys))"
        }
        return """
            \(bullet) gatewayd — \(status.state)\(reason)
                  PID: \(status.pid)   version \(status.version)   up \(uptime(status.uptimeUsec))
                Turns: \(status.turnsInFlight) in flight   Exec: \(status.execRunning) running   Sessions: \(status.sessions)
            Platforms: \(platforms.isEmpty ? "none" : platforms)\(agent)\(config)\(durability)
            """
    }

    /// `2026-12-01 12:40:59 UTC`, in the local time zone as systemctl shows times.
    static func timestamp(_ usec: Int) -> String {
        var seconds = time_t(usec / 1_000_000)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return "\(usec / 1_000_000)" }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A reload's or a check's outcome: one line per changed section, then what it means.
    static func reloadText(_ result: Wire.Reload.Result, file: String?, checked: Bool) -> String {
        let changes = result.changes ?? []
        let revision = result.revision.map { "revision \($0)" } ?? "built-in defaults"
        var lines = [checked ? "\(file ?? "The configuration file") is valid (\(revision))." : "Reloaded (\(revision))."]
        let width = changes.map(\.section.count).max() ?? 0
        for change in changes {
            let padding = String(repeating: " ", count: width - change.section.count)
            let applies = switch change.applies {
            case Wire.ConfigChange.Applies.restart: "[restart]"
            case Wire.ConfigChange.Applies.failed: "[FAILED] "
            default: "[live]   "
            }
            lines.append("  \(change.section)\(padding)  \(applies)  \(change.summary)")
        }
        for problem in result.problems ?? [] { lines.append("warning: \(problem.text)") }
        let waiting = changes.filter { $0.applies == Wire.ConfigChange.Applies.restart }.map(\.section)
        let failed = changes.filter { $0.applies == Wire.ConfigChange.Applies.failed }.map(\.section)
        if changes.isEmpty {
            lines.append(checked ? "No changes against the running configuration." : "No changes.")
        } else if !failed.isEmpty {
            lines.append("Not applied: \(failed.joined(separator: ", ")) (see above; a reload tries again).")
            if !waiting.isEmpty { lines.append("Not applied until a restart: \(waiting.joined(separator: ", ")) (gatewayctl restart).") }
        } else if waiting.isEmpty {
            lines.append(checked ? "Every change applies live (gatewayctl reload)." : "Every change applied.")
        } else {
            lines.append("Not applied until a restart: \(waiting.joined(separator: ", ")) (gatewayctl restart).")
        }
        return lines.joined(separator: "\n")
    }

    static func uptime(_ usec: Int) -> String {
        let seconds = usec / 1_000_000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        return "\(seconds / 3600)h \(seconds % 3600 / 60)m"
    }

    static func sessionsTable(_ sessions: [Wire.Session]) -> String {
        if sessions.isEmpty { return "No sessions." }
        var lines = ["SESSION\tTURN\tQUEUED\tTURNS\tTOKENS IN\tTOKENS OUT"]
        for session in sessions {
            lines.append("\(session.key)\t\(session.turnRunning ? "running" : "idle")\t\(session.queued)\t\(session.turns)"
                         + "\t\(session.tokensIn ?? 0)\t\(session.tokensOut ?? 0)")
        }
        return lines.joined(separator: "\n")
    }

    /// `kind key=value ...`, every field the event has, by name.
    static func eventLine(_ event: Wire.Event) -> String {
        let details = event.parameters.filter { $0.key != "kind" }.sorted { $0.key < $1.key }.map { key, value -> String in
            switch value {
            // Quoted (JSON) when it could be read as more than one value or line: a chat's
            // text holding a newline must not forge a second event line.
            case .string(let text) where text.isEmpty || text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0 == "\"" || $0 == "=" || $0.value >= 0x7F }):
                "\(key)=\(String(decoding: value.serialized(), as: UTF8.self))"
            case .string(let text): "\(key)=\(text)"
            case .int(let number): "\(key)=\(number)"
            case .bool(let flag): "\(key)=\(flag)"
            default: "\(key)=\(String(decoding: value.serialized(), as: UTF8.self))"
            }
        }
        return ([event.kind] + details).joined(separator: " ")
    }
}

/// Everything gatewayctl prints to stdout goes through here (this shadows the standard `print`
/// in the module): text that came from chats reaches the operator's terminal escaped (see
/// `Output.escapingControls`).
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { "\($0)" }.joined(separator: separator)
    Swift.print(Output.escapingControls(text, when: isatty(STDOUT_FILENO) == 1), terminator: terminator)
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
