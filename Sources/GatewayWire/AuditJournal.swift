/// The journal fields of the audit trail: what gatewayd writes for each admin action (a changing
/// control call, a privileged chat command) and `gatewayctl audit` reads back. Names are the
/// metadata keys gatewayd logs with; `journalName` is the field journalctl matches on
/// (`audit` -> `GATEWAY_AUDIT`). Our own names throughout: journald's trusted fields (`_PID`,
/// `_UID`, `_COMM`) describe gatewayd, the writer, and a writer cannot set them.
package enum AuditJournal {
    /// `GATEWAY_AUDIT=1` on every audit record: `journalctl GATEWAY_AUDIT=1` lists the trail.
    package static let marker = "audit"
    package static let markerValue = "1"
    /// `Drain`, `RunQuickCommand`, ... for a control call; `/restart`, `/uptime`, ... in chat.
    package static let action = "action"
    /// The call's parameters as JSON (control) or the command's argument text (chat), capped.
    package static let arguments = "arguments"
    /// `ok`, `error: NAME: message`, or `denied: reason`.
    package static let outcome = "outcome"
    /// Who: `local:<unix user>` on the control socket, the platform identity in chat (`irc:alice`).
    package static let caller = "caller"
    /// In chat, what access matched besides the name: the IRC services account and hostmask.
    package static let callerAccount = "caller_account"
    package static let callerHostmask = "caller_hostmask"
    /// The chat the command came from (`platform:chat`).
    package static let chat = "chat"
    /// The control socket's peer as the kernel named it at connect (`SO_PEERCRED`), and its
    /// command name (/proc/PID/comm, read once per connection).
    package static let peerUID = "peer_uid"
    package static let peerPID = "peer_pid"
    package static let peerComm = "peer_comm"

    /// Outcome words.
    package static let ok = "ok"
    package static let deniedPrefix = "denied: "
    package static let errorPrefix = "error: "

    /// Longest value of an attacker-controlled field (arguments, identities), in UTF-8 bytes;
    /// what is cut off is counted in a suffix. A record stays far below journald's limits.
    package static let maxValueBytes = 2048
    /// Longest MESSAGE, which is one line.
    package static let maxMessageBytes = 512

    /// The journal field of a key: `GATEWAY_` + the key upper-cased.
    package static func journalName(_ key: String) -> String {
        GatewayProduct.journalFieldPrefix + key.uppercased()
    }

    /// At most `limit` UTF-8 bytes of `text` (whole characters), with the number of bytes left
    /// out when it was cut. Binary-safe fields keep CR, LF and NUL as they are.
    package static func capped(_ text: String, limit: Int = maxValueBytes) -> String {
        let total = text.utf8.count
        guard total > limit else { return text }
        var kept = ""
        var used = 0
        for scalar in text.unicodeScalars {
            let size = scalar.utf8.count
            if used + size > limit { break }
            kept.unicodeScalars.append(scalar)
            used += size
        }
        return kept + "…[\(total - used) more bytes]"
    }

    /// `text` as one line for MESSAGE: control characters (CR, LF, NUL, ESC, ...) shown as
    /// `\u{XX}`, so a value cannot forge a second line in `journalctl`'s output; capped.
    package static func oneLine(_ text: String, limit: Int = maxMessageBytes) -> String {
        // Most lines need nothing: returned as they are, without a copy scalar by scalar (this
        // runs with every quick command run).
        if !text.unicodeScalars.contains(where: needsEscape) { return capped(text, limit: limit) }
        var line = ""
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                line += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                line.unicodeScalars.append(scalar)
            }
        }
        return capped(line, limit: limit)
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}"
    }
}
