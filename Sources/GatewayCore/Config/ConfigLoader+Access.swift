extension ConfigLoader {
    /// `access`: each entry parsed (see `AccessEntry`), every bad one reported with its line. A
    /// bare `irc:NICK` is refused in `admins`: whoever takes the nick when it is free would get
    /// its rights.
    static func readAccess(_ node: YAMLNode, into access: inout AccessConfig, _ reader: inout ConfigReader) {
        for (key, value) in reader.entries(node, "access", allowed: ["allowed_users", "admins"]) {
            let path = "access.\(key)"
            guard let items = value.sequence else {
                reader.error(path, value.line, "expected a list, such as [\"irc:~alice\", \"webhook:*\"]")
                continue
            }
            var list: [String] = []
            for item in items {
                guard let text = reader.string(item, path) else { continue }
                do {
                    let entry = try AccessEntry(parsing: text)
                    if key == "admins" && entry.isBareIRCNick {
                        reader.error(path, item.line, "\(text.debugDescription) names an IRC nick, which anyone may take once it is free; "
                            + "name a services account (\"irc:~ACCOUNT\") or a mask (\"irc:nick!user@host\", wildcards * and ?)")
                        continue
                    }
                } catch {
                    reader.error(path, item.line, error.message)
                    continue
                }
                list.append(text)
            }
            if key == "allowed_users" { access.allowedUsers = list } else { access.admins = list }
        }
    }

    /// Admins whom anyone on IRC can impersonate (see `AccessEntry.matchesAnyoneOnIRC`): a
    /// warning, not an error, each with its line. `*` only when IRC is configured: where the
    /// senders are the control socket's peers (vetted by uid), `*` or `local:*` is a fair way
    /// to say "every local user". (Webhook admins have a warning of their own, `StartupCheck`.)
    static func checkOpenAdmins(_ config: GatewayConfig, root: YAMLNode, _ reader: inout ConfigReader) {
        let access = root.mapping?.first { $0.key.string == "access" }?.value
        guard let admins = access?.mapping?.first(where: { $0.key.string == "admins" })?.value.sequence else { return }
        for item in admins {
            guard let text = item.string, let entry = try? AccessEntry(parsing: text), entry.matchesAnyoneOnIRC else { continue }
            switch entry {
            case .everyone:
                guard config.platforms.network[GatewayConstants.ircPlatform] != nil else { continue }
                reader.warning("access.admins", item.line, "\"*\" makes everyone an admin, on IRC too, where anyone may connect and "
                               + "take any free nick; name IRC admins by account (\"irc:~ACCOUNT\") and local ones as \"local:*\"")
            case .platform:
                reader.warning("access.admins", item.line, "\(text.debugDescription) makes everyone on IRC an admin (exec quick commands, "
                               + "/restart); name services accounts (\"irc:~ACCOUNT\") or masks with a host (\"irc:nick!user@host\")")
            default:
                reader.warning("access.admins", item.line, "\(text.debugDescription) matches anyone who picks that nick and user name: "
                               + "its host part is all wildcards; name a services account (\"irc:~ACCOUNT\") or the host")
            }
        }
    }
}
