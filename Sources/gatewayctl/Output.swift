import Foundation
import Varlink

/// Text and JSON output in one place.
enum Output {
    static func json(_ value: JSONValue) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self))
    }

    static func error(_ text: String, newline: Bool = true) {
        let safe = escapingControls(text, when: isatty(STDERR_FILENO) == 1)
        FileHandle.standardError.write(Data((newline ? safe + "\n" : safe).utf8))
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
        default: false
        }
    }

    static func stateReply(_ reply: [String: JSONValue], _ options: ClientOptions) {
        let status = reply["status"] ?? .null
        options.json ? json(status) : print(progress(status))
    }

    /// `draining (admin): 2 turns, 1 exec`.
    static func progress(_ status: JSONValue) -> String {
        let object = status.object ?? [:]
        let state = object["state"]?.string ?? "?"
        let reason = object["reason"]?.string.map { " (\($0))" } ?? ""
        let turns = object["turns_in_flight"]?.int ?? 0
        let exec = object["exec_running"]?.int ?? 0
        return "\(state)\(reason): \(turns) turn\(turns == 1 ? "" : "s"), \(exec) exec"
    }

    /// A short systemctl-like summary.
    static func statusText(_ status: JSONValue) -> String {
        let object = status.object ?? [:]
        let state = object["state"]?.string ?? "?"
        let reason = object["reason"]?.string.map { " (\($0))" } ?? ""
        let bullet = state == "running" ? "●" : "○"
        var platforms = (object["platforms"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
        if let health = object["platform_health"]?.array, !health.isEmpty {
            platforms = health.compactMap(\.object).map { entry in
                "\(entry["name"]?.string ?? "?") (\(entry["health"]?.string ?? "?"): \(entry["detail"]?.string ?? ""))"
            }.joined(separator: "\n           ")
        }
        let durability = object["store_problem"]?.string.map { "\n  Durable: NO, queued messages are lost on a restart: \($0)" } ?? ""
        return """
            \(bullet) gatewayd — \(state)\(reason)
                  PID: \(object["pid"]?.int ?? 0)   version \(object["version"]?.string ?? "?")   up \(uptime(object["uptime_usec"]?.int ?? 0))
                Turns: \(object["turns_in_flight"]?.int ?? 0) in flight   Exec: \(object["exec_running"]?.int ?? 0) running   Sessions: \(object["sessions"]?.int ?? 0)
            Platforms: \(platforms.isEmpty ? "none" : platforms)\(durability)
            """
    }

    static func uptime(_ usec: Int64) -> String {
        let seconds = usec / 1_000_000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        return "\(seconds / 3600)h \(seconds % 3600 / 60)m"
    }

    static func sessionsTable(_ sessions: JSONValue) -> String {
        let rows = sessions.array ?? []
        if rows.isEmpty { return "No sessions." }
        var lines = ["SESSION\tTURN\tQUEUED\tTURNS"]
        for row in rows {
            let object = row.object ?? [:]
            lines.append("\(object["key"]?.string ?? "?")\t\(object["turn_running"]?.bool == true ? "running" : "idle")\t\(object["queued"]?.int ?? 0)\t\(object["turns"]?.int ?? 0)")
        }
        return lines.joined(separator: "\n")
    }

    static func eventLine(_ event: JSONValue) -> String {
        let object = event.object ?? [:]
        let kind = object["kind"]?.string ?? "?"
        let details = object.filter { $0.key != "kind" }.sorted { $0.key < $1.key }.map { key, value -> String in
            switch value {
            case .string(let text): "\(key)=\(text)"
            case .int(let number): "\(key)=\(number)"
            case .bool(let flag): "\(key)=\(flag)"
            default: "\(key)=\(value)"
            }
        }
        return ([kind] + details).joined(separator: " ")
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
