/// Renders metric families in the Prometheus text exposition format (version 0.0.4, what
/// every Prometheus scrapes) or in OpenMetrics 1.0 (`gatewayctl metrics --openmetrics`, or a
/// scraper that asks for it). One renderer for the HTTP listener and `gatewayctl`, so the two
/// never disagree.
package enum MetricsExposition {
    package enum Format: Sendable {
        case prometheus, openMetrics

        /// The HTTP `Content-Type` of the rendering.
        package var contentType: String {
            switch self {
            case .prometheus: "text/plain; version=0.0.4; charset=utf-8"
            case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }

        /// OpenMetrics when the scraper's `Accept` header asks for it (Prometheus sends
        /// `application/openmetrics-text` first when it can read it), else the text format.
        package init(accept: String?) {
            self = accept?.contains("application/openmetrics-text") == true ? .openMetrics : .prometheus
        }
    }

    package static func render(_ metrics: [Wire.Metric], as format: Format) -> String {
        var out = ""
        out.reserveCapacity(metrics.count * 256)
        for metric in metrics {
            let kind = Wire.Metric.Kind(rawValue: metric.type) ?? .gauge
            switch format {
            case .prometheus:
                // The text format names a family after its samples: a counter's `_total`, an
                // info's `_info` (a gauge there, the text format has no info type).
                let name = kind == .counter ? metric.name + "_total" : kind == .info ? metric.name + "_info" : metric.name
                out += "# HELP \(name) \(escapeHelp(metric.help))\n"
                out += "# TYPE \(name) \(kind == .info ? "gauge" : kind.rawValue)\n"
            case .openMetrics:
                out += "# TYPE \(metric.name) \(kind.rawValue)\n"
                out += "# HELP \(metric.name) \(escapeHelp(metric.help, quotes: true))\n"
            }
            for sample in metric.samples {
                out += metric.name
                if let suffix = sample.suffix { out += suffix }
                if let labels = sample.labels, !labels.pairs.isEmpty {
                    out += "{"
                    for (index, label) in labels.pairs.enumerated() {
                        if index > 0 { out += "," }
                        out += "\(label.name)=\"\(escapeLabel(label.value))\""
                    }
                    out += "}"
                }
                out += " \(number(sample.value))\n"
            }
        }
        if format == .openMetrics { out += "# EOF\n" }
        return out
    }

    /// `3`, `0.25`, `+Inf`: whole values without a fraction, as Prometheus's own clients write them.
    package static func number(_ value: Double) -> String {
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func escapeHelp(_ text: String, quotes: Bool = false) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quotes: out += "\\\""
            default: out.append(character)
            }
        }
        return out
    }

    private static func escapeLabel(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"": out += "\\\""
            default: out.append(character)
            }
        }
        return out
    }
}
