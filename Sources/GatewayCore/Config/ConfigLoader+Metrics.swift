/// `metrics:`: where the HTTP listener serves `/metrics`, `/healthz` and `/readyz`.
package struct MetricsConfig: Sendable, Equatable {
    /// nil: no listener (the default); `GetMetrics` on the control socket works regardless.
    package var listen: ListenAddress?

    package init(listen: ListenAddress? = nil) { self.listen = listen }
}

/// `host:port` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`).
package struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// nil unless the text is a host (an IPv6 literal in brackets) and a port 0..65535.
    package init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" "), !host.contains("[") else { return nil }
        self.init(host: host, port: port)
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension ConfigLoader {
    static func readMetrics(_ node: YAMLNode, into metrics: inout MetricsConfig, _ reader: inout ConfigReader) {
        for (key, value) in reader.entries(node, "metrics", allowed: ["listen"]) where key == "listen" {
            guard let text = reader.string(value, "metrics.listen") else { continue }
            if let address = ListenAddress(text) {
                metrics.listen = address
            } else {
                reader.error("metrics.listen", value.line, "expected host:port such as \"127.0.0.1:9464\", got \(text.debugDescription)")
            }
        }
    }
}
