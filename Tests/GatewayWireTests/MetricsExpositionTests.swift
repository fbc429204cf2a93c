import GatewayWire
import JSON
import Testing

@Suite("Metrics exposition")
struct MetricsExpositionTests {
    let families = [
        Wire.Metric(name: "gatewayd_messages", type: .counter, help: "Messages \"received\"\\n.", samples: [
            Wire.MetricSample(suffix: "_total", labels: [("platform", "irc"), ("route", "exec")], value: 3),
        ]),
        Wire.Metric(name: "gatewayd_turn_duration_seconds", type: .histogram, help: "Turns.", samples: [
            Wire.MetricSample(suffix: "_bucket", labels: [("le", "0.5")], value: 1),
            Wire.MetricSample(suffix: "_bucket", labels: [("le", "+Inf")], value: 2),
            Wire.MetricSample(suffix: "_sum", value: 1.25),
            Wire.MetricSample(suffix: "_count", value: 2),
        ]),
        Wire.Metric(name: "gatewayd_config", type: .info, help: "Config.", samples: [
            Wire.MetricSample(suffix: "_info", labels: [("revision", "a\"b\\c\nd")], value: 1),
        ]),
        Wire.Metric(name: "gatewayd_sessions", type: .gauge, help: "Sessions.", samples: [Wire.MetricSample(value: 4)]),
    ]

    @Test("the Prometheus text format: counters and infos named after their samples, labels escaped")
    func prometheus() {
        #expect(MetricsExposition.render(families, as: .prometheus) == #"""
            # HELP gatewayd_messages_total Messages "received"\\n.
            # TYPE gatewayd_messages_total counter
            gatewayd_messages_total{platform="irc",route="exec"} 3
            # HELP gatewayd_turn_duration_seconds Turns.
            # TYPE gatewayd_turn_duration_seconds histogram
            gatewayd_turn_duration_seconds_bucket{le="0.5"} 1
            gatewayd_turn_duration_seconds_bucket{le="+Inf"} 2
            gatewayd_turn_duration_seconds_sum 1.25
            gatewayd_turn_duration_seconds_count 2
            # HELP gatewayd_config_info Config.
            # TYPE gatewayd_config_info gauge
            gatewayd_config_info{revision="a\"b\\c\nd"} 1
            # HELP gatewayd_sessions Sessions.
            # TYPE gatewayd_sessions gauge
            gatewayd_sessions 4

            """#)
    }

    @Test("OpenMetrics: families by their own names, TYPE first, info type, # EOF at the end")
    func openMetrics() {
        let text = MetricsExposition.render(families, as: .openMetrics)
        #expect(text.hasPrefix("# TYPE gatewayd_messages counter\n# HELP gatewayd_messages Messages \\\"received\\\"\\\\n.\ngatewayd_messages_total{"))
        #expect(text.contains("# TYPE gatewayd_config info\n# HELP gatewayd_config Config.\ngatewayd_config_info{"))
        #expect(text.hasSuffix("gatewayd_sessions 4\n# EOF\n"))
        #expect(MetricsExposition.Format(accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5") == .openMetrics)
        #expect(MetricsExposition.Format(accept: "text/plain") == .prometheus)
        #expect(MetricsExposition.Format(accept: nil) == .prometheus)
    }

    @Test("GetMetrics' result to JSON and back, labels and values kept")
    func roundTrip() throws {
        let result = Wire.GetMetrics.Result(metrics: families)
        let decoded = try Wire.GetMetrics.Result(parameters: result.parameters)
        #expect(decoded == result)
        #expect(MetricsExposition.render(decoded.metrics, as: .prometheus) == MetricsExposition.render(families, as: .prometheus))
    }
}
