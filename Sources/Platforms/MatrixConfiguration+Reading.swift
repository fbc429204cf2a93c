import GatewayCore

extension MatrixConfiguration: PlatformSettings {
    package static var platform: String { GatewayConstants.matrixPlatform }

    /// `homeserver: https://matrix.example.org`, `user_id: "@bot:example.org"`,
    /// `access_token_file: /etc/gatewayd/matrix.token` (read here: the token is never in the
    /// config text; without it, the systemd credential `matrix_access_token`; or `password_file`
    /// for a password login), and optionally
    /// `rooms`, `edit_streaming`, `reply_msgtype` (`m.notice`, `m.text`), `poll_timeout`
    /// (1s .. 120s). Every problem is recorded with its line; none of them shows the token.
    package static func read(_ node: YAMLNode, path: String, _ reader: inout ConfigReader) -> MatrixConfiguration? {
        let errorsBefore = reader.errorCount
        var homeserver: String?, userID: String?, token: Secret?, tokenFileSeen = false, rooms: [String] = []
        var password: Secret?, passwordFileSeen = false
        var editStreaming = false, replyType = ReplyMessageType.notice, pollTimeout = Defaults.pollTimeout
        for (key, value) in reader.entries(node, path, allowed: Set(Key.all)) {
            let keyPath = "\(path).\(key)"
            switch key {
            case Key.homeserver:
                guard let text = reader.string(value, keyPath) else { continue }
                if let url = TelegramConfiguration.normalizedBase(text) { homeserver = url } else {
                    reader.error(keyPath, value.line, "expected the homeserver's http:// or https:// URL, such as \"https://matrix.example.org\", got \(text.debugDescription)")
                }
            case Key.userID:
                guard let text = reader.string(value, keyPath) else { continue }
                if isIdentifier(text, sigils: "@") { userID = text } else {
                    reader.error(keyPath, value.line, "expected the bot's full Matrix id, such as \"@gatewayd:example.org\" (quoted: @ starts no plain YAML value), got \(text.debugDescription)")
                }
            case Key.accessTokenFile:
                tokenFileSeen = true
                guard let file = reader.string(value, keyPath) else { continue }
                do { token = try readToken(file) } catch { reader.error(keyPath, value.line, error.message) }
            case Key.passwordFile:
                passwordFileSeen = true
                guard let file = reader.string(value, keyPath) else { continue }
                do { password = try Secret.read(file: file) } catch { reader.error(keyPath, value.line, error.description) }
            case Key.rooms:
                guard let items = reader.strings(value, keyPath) else { continue }
                for item in items where !isIdentifier(item, sigils: "#") && !isRoomID(item) {
                    reader.error(keyPath, value.line, "expected room ids (\"!abc:example.org\") or aliases (\"#room:example.org\"), quoted, got \(item.debugDescription)")
                }
                rooms = items
            case Key.editStreaming: editStreaming = reader.bool(value, keyPath) ?? editStreaming
            case Key.replyMessageType: replyType = reader.choice(value, keyPath, ReplyMessageType.self) ?? replyType
            default:
                guard let duration = reader.duration(value, keyPath) else { continue }
                if Defaults.pollTimeoutRange.contains(duration) {
                    pollTimeout = .seconds(duration.components.seconds)
                } else {
                    reader.error(keyPath, value.line, "must be 1s .. 120s, got \(DurationValue.describe(duration))")
                }
            }
        }
        if homeserver == nil && !node.hasKey(Key.homeserver) {
            reader.error("\(path).\(Key.homeserver)", node.line, "required: the homeserver's URL, such as \"https://matrix.example.org\"")
        }
        if userID == nil && !node.hasKey(Key.userID) {
            reader.error("\(path).\(Key.userID)", node.line, "required: the bot's Matrix id, such as \"@gatewayd:example.org\"")
        }
        if tokenFileSeen && passwordFileSeen {
            reader.error("\(path).\(Key.passwordFile)", node.line,
                         "set \(Key.accessTokenFile) or \(Key.passwordFile), not both (a password login makes and keeps its own token)")
        }
        if token == nil && !tokenFileSeen && !passwordFileSeen {
            if let directory = ProcessEnvironment.value("CREDENTIALS_DIRECTORY") {
                let file = directory + "/" + Defaults.credentialName
                do { token = try readToken(file) } catch {
                    reader.error("\(path).\(Key.accessTokenFile)", node.line, "not set, and the systemd credential \(Defaults.credentialName): \(error.message)")
                }
            } else {
                reader.error("\(path).\(Key.accessTokenFile)", node.line,
                             "required (a file holding the bot's access token: log in once, e.g. with curl to /_matrix/client/v3/login), or the systemd credential \(Defaults.credentialName), or \(Key.passwordFile) (a file holding the bot's password)")
            }
        }
        guard reader.errorCount == errorsBefore, let homeserver, let userID,
              let credential = token.map(Credential.accessToken) ?? password.map(Credential.password) else { return nil }
        return MatrixConfiguration(homeserver: homeserver, userID: userID, credential: credential, rooms: rooms,
                                   editStreaming: editStreaming, replyMessageType: replyType, pollTimeout: pollTimeout)
    }

    /// A room id: `!opaque:server`, or since room version 12 `!<hash>` with no server (the
    /// hash of the room's create event); no spaces or control characters.
    static func isRoomID(_ text: String) -> Bool {
        text.hasPrefix("!") && text.count > 1 && !text.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7f }
    }

    /// `@local:server`, `!opaque:server`, `#alias:server`: a sigil, a non-empty local part, a
    /// colon, a server name; no spaces or control characters.
    static func isIdentifier(_ text: String, sigils: String) -> Bool {
        guard let first = text.first, sigils.contains(first), let colon = text.dropFirst().firstIndex(of: ":") else { return false }
        return colon > text.index(after: text.startIndex) && colon < text.index(before: text.endIndex)
            && !text.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7f }
    }

    /// The token as `Secret.read(file:)` reads it, refused when it could not be one: it goes in
    /// a header (`Authorization: Bearer <token>`), so a control character or a space would
    /// change the request. The message never shows the token.
    static func readToken(_ path: String) throws(PlatformError) -> Secret {
        let secret: Secret
        do { secret = try Secret.read(file: path) } catch { throw PlatformError(error.description) }
        guard canBeToken(secret.bytes) else {
            throw PlatformError("\(path) holds characters an access token cannot have (control characters, spaces, non-ASCII)")
        }
        return secret
    }

    /// Whether `bytes` can be sent as a token in a header: visible ASCII only.
    static func canBeToken(_ bytes: some Sequence<UInt8>) -> Bool {
        !bytes.contains(where: { $0 <= 0x20 || $0 >= 0x7f })
    }

    package func changedKeys(from old: MatrixConfiguration) -> [String] {
        var changed: [String] = []
        func note(_ key: String, _ differs: Bool) { if differs { changed.append(key) } }
        note(Key.homeserver, homeserver != old.homeserver)
        note(Key.userID, userID != old.userID)
        switch (credential, old.credential) {
        case (.accessToken(let new), .accessToken(let previous)): note(Key.accessTokenFile, new != previous)
        case (.password(let new), .password(let previous)): note(Key.passwordFile, new != previous)
        default: changed += [Key.accessTokenFile, Key.passwordFile]
        }
        note(Key.rooms, rooms != old.rooms)
        note(Key.editStreaming, editStreaming != old.editStreaming)
        note(Key.replyMessageType, replyMessageType != old.replyMessageType)
        note(Key.pollTimeout, pollTimeout != old.pollTimeout)
        note("backoff", backoffMin != old.backoffMin || backoffMax != old.backoffMax)
        return changed
    }
}

extension YAMLNode {
    /// Whether a mapping has `key` (whatever its value): a key given with a bad value was
    /// already reported, and is not also "required".
    fileprivate func hasKey(_ key: String) -> Bool { mapping?.contains { $0.key.string == key } ?? false }
}
