/// `https_proxy`, `http_proxy` and `no_proxy` (either case) as curl and most HTTP clients read
/// them: which proxy, if any, a request to a given URL goes through.
struct ProxyEnvironment: Sendable, Equatable {
    struct Proxy: Sendable, Equatable {
        var host: String
        var port: Int
        /// `user:password` from the proxy URL, sent as Basic authorization to the proxy.
        var credentials: String?
    }

    var https: Proxy?
    var http: Proxy?
    /// Host names and suffixes (`.example.com` or `example.com`, which also covers its
    /// subdomains), addresses, or `*` for everything.
    var exclusions: [String] = []

    init(https: Proxy? = nil, http: Proxy? = nil, exclusions: [String] = []) {
        self.https = https
        self.http = http
        self.exclusions = exclusions
    }

    init(environment: [String: String]) {
        func value(_ name: String) -> String? {
            let text = environment[name] ?? environment[name.uppercased()]
            return text?.isEmpty == false ? text : nil
        }
        https = value("https_proxy").flatMap(Self.parseProxy)
        http = value("http_proxy").flatMap(Self.parseProxy)
        exclusions = (value("no_proxy") ?? "").split(separator: ",").map {
            $0.trimmed(of: " ").lowercased()
        }.filter { !$0.isEmpty }
    }

    /// The proxy for `url` (an `http://` or `https://` URL), nil to connect directly.
    func proxy(for url: String) -> Proxy? {
        let lower = url.lowercased()
        let isHTTPS = lower.hasPrefix("https://")
        guard let proxy = isHTTPS ? https : http else { return nil }
        let afterScheme = lower.drop { $0 != "/" }.drop { $0 == "/" }
        var host = String(afterScheme.prefix { $0 != "/" })
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        for entry in exclusions {
            if entry == "*" { return nil }
            var pattern = entry
            if let colon = pattern.lastIndex(of: ":"), !pattern.contains("]"), pattern.filter({ $0 == ":" }).count == 1 {
                pattern = String(pattern[..<colon])
            }
            pattern = pattern.trimmed(of: "[]")
            if pattern.hasPrefix(".") { pattern.removeFirst() }
            if host == pattern || host.hasSuffix("." + pattern) { return nil }
        }
        return proxy
    }

    /// `http://[user:password@]host[:port][/]`, or just `host:port`.
    static func parseProxy(_ text: String) -> Proxy? {
        var rest = Substring(text)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") { rest = rest[rest.index(colon, offsetBy: 3)...] }
        rest = rest.prefix { $0 != "/" }
        var credentials: String?
        if let at = rest.lastIndex(of: "@") {
            credentials = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }
        var host = String(rest)
        var port = 80
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]"), let number = Int(rest[rest.index(after: colon)...]) {
            host = String(rest[..<colon])
            port = number
        }
        host = host.trimmed(of: "[]")
        guard !host.isEmpty, (1...65_535).contains(port) else { return nil }
        return Proxy(host: host, port: port, credentials: credentials)
    }
}

extension StringProtocol {
    /// Without leading and trailing characters of `set` (no Foundation in the daemon).
    func trimmed(of set: String) -> String {
        let characters = Set(set)
        var text = Substring(self)
        while let first = text.first, characters.contains(first) { text.removeFirst() }
        while let last = text.last, characters.contains(last) { text.removeLast() }
        return String(text)
    }
}
