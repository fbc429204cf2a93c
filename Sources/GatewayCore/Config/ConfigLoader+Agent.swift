import Glibc

extension ConfigLoader {
    static let agentKeys: Set<String> = ["backend", "command", "turn_timeout", "openai"]
    static let openAIKeys: Set<String> = [
        "base_url", "model", "api_key_file", "system_prompt", "history_turns", "max_tokens", "temperature",
        "request_timeout", "retries", "fallbacks",
    ]
    static let fallbackKeys: Set<String> = ["base_url", "model", "api_key_file"]

    /// `agent`: the backend and what it needs (`command`'s argv, `openai`'s endpoints), each
    /// problem with its line. API key files are read here, so `--check-config` and
    /// `reload --check` catch a missing or empty one before a turn would.
    static func readAgent(_ node: YAMLNode, into agent: inout AgentConfig, _ reader: inout ConfigReader) {
        var openAILine: Int?
        for (key, value) in reader.entries(node, "agent", allowed: agentKeys) {
            let path = "agent.\(key)"
            switch key {
            case "backend": if let backend = reader.choice(value, path, AgentConfig.Backend.self) { agent.backend = backend }
            case "command": agent.command = reader.strings(value, path) ?? []
            case "openai":
                openAILine = value.line
                agent.openai = readOpenAI(value, &reader)
            default: if let duration = reader.duration(value, path) { agent.turnTimeout = duration }
            }
        }
        if agent.backend == .command && agent.command.isEmpty {
            reader.error("agent.command", node.line, "backend 'command' needs a command (an argv list)")
        }
        if agent.backend == .openai && agent.openai == nil && openAILine == nil {
            reader.error("agent.openai", node.line, "backend 'openai' needs an openai section with base_url and model")
        }
    }

    private static func readOpenAI(_ node: YAMLNode, _ reader: inout ConfigReader) -> OpenAISettings? {
        var baseURL: String?
        var model: String?
        var keyFile: (path: String, line: Int?)?
        var settings = OpenAISettings(primary: .init(baseURL: "", model: ""))
        let entries = reader.entries(node, "agent.openai", allowed: openAIKeys)
        let keys = Set(entries.map(\.0))
        for (key, value) in entries {
            let path = "agent.openai.\(key)"
            switch key {
            case "base_url": baseURL = readBaseURL(value, path, &reader)
            case "model": model = readModel(value, path, &reader)
            case "api_key_file": if let file = reader.string(value, path) { keyFile = (file, value.line) }
            case "system_prompt": settings.systemPrompt = reader.string(value, path)
            case "history_turns":
                if let turns = reader.int(value, path, in: ConfigLimits.historyTurns) { settings.historyTurns = turns }
            case "max_tokens":
                if let tokens = reader.int(value, path, in: ConfigLimits.maxTokens) { settings.maxTokens = tokens }
            case "temperature":
                settings.temperature = reader.double(value, path, in: 0...2, describe: "from 0 to 2")
            case "request_timeout": if let duration = reader.duration(value, path) { settings.requestTimeout = duration }
            case "retries": if let retries = reader.int(value, path, in: ConfigLimits.retries) { settings.retries = retries }
            default: settings.fallbacks = readFallbacks(value, &reader)
            }
        }
        if case .mapping = node {
            if !keys.contains("base_url") { reader.error("agent.openai.base_url", node.line, "required: the server's URL, such as \"http://127.0.0.1:8080/v1\"") }
            if !keys.contains("model") { reader.error("agent.openai.model", node.line, "required: the model name the server knows") }
        }
        let key = readKey(keyFile, path: "agent.openai.api_key_file", credential: true, &reader)
        guard let baseURL, let model else { return nil }
        settings.primary = .init(baseURL: baseURL, model: model, apiKey: key)
        return settings
    }

    private static func readFallbacks(_ node: YAMLNode, _ reader: inout ConfigReader) -> [OpenAISettings.Endpoint] {
        guard case .sequence(let items, _) = node else {
            reader.error("agent.openai.fallbacks", node.line, "expected a list of {base_url, model, api_key_file}")
            return []
        }
        var endpoints: [OpenAISettings.Endpoint] = []
        for (index, item) in items.enumerated() {
            let itemPath = "agent.openai.fallbacks[\(index)]"
            var baseURL: String?
            var model: String?
            var keyFile: (path: String, line: Int?)?
            let entries = reader.entries(item, itemPath, allowed: fallbackKeys)
            let keys = Set(entries.map(\.0))
            for (key, value) in entries {
                let path = "\(itemPath).\(key)"
                switch key {
                case "base_url": baseURL = readBaseURL(value, path, &reader)
                case "model": model = readModel(value, path, &reader)
                default: if let file = reader.string(value, path) { keyFile = (file, value.line) }
                }
            }
            if case .mapping = item {
                if !keys.contains("base_url") { reader.error("\(itemPath).base_url", item.line, "required: the server's URL") }
                if !keys.contains("model") { reader.error("\(itemPath).model", item.line, "required: the model name the server knows") }
            }
            let key = readKey(keyFile, path: "\(itemPath).api_key_file", credential: false, &reader)
            guard let baseURL, let model else { continue }
            endpoints.append(.init(baseURL: baseURL, model: model, apiKey: key))
        }
        return endpoints
    }

    /// http(s)://host[:port][/path], nothing that could split a request line or a header.
    private static func readBaseURL(_ node: YAMLNode, _ path: String, _ reader: inout ConfigReader) -> String? {
        guard let text = reader.string(node, path) else { return nil }
        let lower = text.lowercased()
        let scheme = lower.hasPrefix("https://") ? "https://" : lower.hasPrefix("http://") ? "http://" : nil
        let rest = scheme.map { text.dropFirst($0.count) } ?? ""
        let authority = rest.prefix { $0 != "/" }
        guard scheme != nil, validAuthority(authority), !text.contains(where: { $0.isWhitespace || ($0.asciiValue ?? 0x20) < 0x20 || $0 == "\u{7f}" }),
              !rest.contains("?"), !rest.contains("#"), !rest.contains("@") else {
            reader.error(path, node.line, "expected an http:// or https:// URL without spaces, query or credentials (a port from 1 to 65535), such as \"http://127.0.0.1:8080/v1\", got \(text.debugDescription)")
            return nil
        }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// `host`, `host:port` or `[v6]:port` with a port from 1 to 65535 (one the request could
    /// use: a bad one is found by `--check-config`, not by the first turn).
    private static func validAuthority(_ authority: Substring) -> Bool {
        var host = authority
        var port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return false }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return false }
                port = after.dropFirst()
            }
            guard host.count > 2 else { return false }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { return false }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber),
                  let number = Int(port), (1...65_535).contains(number) else { return false }
        }
        return true
    }

    private static func readModel(_ node: YAMLNode, _ path: String, _ reader: inout ConfigReader) -> String? {
        guard let text = reader.string(node, path) else { return nil }
        guard !text.isEmpty, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            reader.error(path, node.line, "expected a model name, got \(text.debugDescription)")
            return nil
        }
        return text
    }

    /// The key from its file, or (for the primary) the systemd credential `openai_api_key`;
    /// nil when neither is there (a local server that wants none). A credential that is there
    /// but cannot be used is an error like a bad file (not a silent turn without a key, which
    /// the server would answer with a 401 that points nowhere near the cause).
    private static func readKey(_ file: (path: String, line: Int?)?, path: String, credential: Bool,
                                _ reader: inout ConfigReader) -> Secret? {
        let source: String
        if let file {
            source = file.path
        } else {
            guard credential, let directory = ProcessEnvironment.value("CREDENTIALS_DIRECTORY") else { return nil }
            source = directory + "/" + OpenAISettings.credentialName
            var status = stat()
            if stat(source, &status) != 0 && errno == ENOENT { return nil }
        }
        let secret: Secret
        do {
            secret = try Secret.read(file: source)
        } catch {
            reader.error(path, file?.line, error.description)
            return nil
        }
        // It goes into a header: a CR or LF would end it and start another one of the file's choosing.
        guard !secret.bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
            reader.error(path, file?.line, "\(source) holds a control character (a line break inside the key?): an API key is one line")
            return nil
        }
        return secret
    }
}
