import GatewayCore

extension TelegramConfiguration: PlatformSettings {
    package static var platform: String { GatewayConstants.telegramPlatform }

    /// `token_file: /etc/gatewayd/telegram.token` (read here: the token is never in the config
    /// text; without it, the systemd credential `telegram_token`), and optionally `api_base`,
    /// `allowed_chats` (chat ids), `edit_streaming`, `poll_timeout` (1s .. 50s). Every problem
    /// is recorded with its line; none of them shows the token.
    package static func read(_ node: YAMLNode, path: String, _ reader: inout ConfigReader) -> TelegramConfiguration? {
        let errorsBefore = reader.errorCount
        var token: Secret?, tokenFileSeen = false, apiBase = Defaults.apiBase, allowedChats: Set<Int64>?
        var editStreaming = false, pollTimeout = Defaults.pollTimeout
        for (key, value) in reader.entries(node, path, allowed: Set(Key.all)) {
            let keyPath = "\(path).\(key)"
            switch key {
            case Key.tokenFile:
                tokenFileSeen = true
                guard let file = reader.string(value, keyPath) else { continue }
                do { token = try readToken(file) } catch { reader.error(keyPath, value.line, error.message) }
            case Key.apiBase:
                guard let text = reader.string(value, keyPath) else { continue }
                if let url = normalizedBase(text) { apiBase = url } else {
                    reader.error(keyPath, value.line, "expected an http:// or https:// URL such as \"\(Defaults.apiBase)\", got \(text.debugDescription)")
                }
            case Key.allowedChats:
                guard let items = value.sequence else {
                    reader.error(keyPath, value.line, "expected a list of chat ids, such as [123456789, -1001234567890]")
                    continue
                }
                var chats: Set<Int64> = []
                for item in items {
                    if let id = item.string.flatMap({ Int64($0) }) { chats.insert(id) } else {
                        reader.error(keyPath, item.line, "expected a chat id (a whole number, negative for groups), got \((item.string ?? "a list or mapping").debugDescription)")
                    }
                }
                allowedChats = chats
            case Key.editStreaming: editStreaming = reader.bool(value, keyPath) ?? editStreaming
            default:
                guard let duration = reader.duration(value, keyPath) else { continue }
                if Defaults.pollTimeoutRange.contains(duration) {
                    pollTimeout = .seconds(duration.components.seconds)
                } else {
                    reader.error(keyPath, value.line, "must be 1s .. 50s, got \(DurationValue.describe(duration))")
                }
            }
        }
        if token == nil && !tokenFileSeen {
            if let directory = ProcessEnvironment.value("CREDENTIALS_DIRECTORY") {
                let file = directory + "/" + Defaults.credentialName
                do { token = try readToken(file) } catch {
                    reader.error("\(path).\(Key.tokenFile)", node.line, "not set, and the systemd credential \(Defaults.credentialName): \(error.message)")
                }
            } else {
                reader.error("\(path).\(Key.tokenFile)", node.line,
                             "required (a file holding the bot token), or the systemd credential \(Defaults.credentialName)")
            }
        }
        guard reader.errorCount == errorsBefore, let token else { return nil }
        return TelegramConfiguration(token: token, apiBase: apiBase, allowedChats: allowedChats,
                                     editStreaming: editStreaming, pollTimeout: pollTimeout)
    }

    /// The token as `Secret.read(file:)` reads it, refused when it could not be a token: it goes
    /// into every request's path (`/bot<token>/getUpdates`), so a control character, a space or
    /// `/ ? # %` would change the request. The message never shows the token.
    static func readToken(_ path: String) throws(PlatformError) -> Secret {
        let secret: Secret
        do { secret = try Secret.read(file: path) } catch { throw PlatformError(error.description) }
        let forbidden: Set<UInt8> = [0x20, 0x2f, 0x3f, 0x23, 0x25]  // space / ? # %
        guard !secret.bytes.contains(where: { $0 < 0x20 || $0 >= 0x7f || forbidden.contains($0) }) else {
            throw PlatformError("\(path) holds characters a bot token cannot have (control characters, spaces, non-ASCII, / ? # %)")
        }
        return secret
    }

    /// `http(s)://host[:port][/path]` without its trailing slashes; nil when it is not one.
    static func normalizedBase(_ text: String) -> String? {
        guard text.hasPrefix("https://") || text.hasPrefix("http://"),
              !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) else { return nil }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url.hasSuffix(":") || url.hasSuffix("//") ? nil : url
    }

    package func changedKeys(from old: TelegramConfiguration) -> [String] {
        var changed: [String] = []
        func note(_ key: String, _ differs: Bool) { if differs { changed.append(key) } }
        note(Key.tokenFile, token != old.token)
        note(Key.apiBase, apiBase != old.apiBase)
        note(Key.allowedChats, allowedChats != old.allowedChats)
        note(Key.editStreaming, editStreaming != old.editStreaming)
        note(Key.pollTimeout, pollTimeout != old.pollTimeout)
        note("backoff", backoffMin != old.backoffMin || backoffMax != old.backoffMax)
        return changed
    }
}
