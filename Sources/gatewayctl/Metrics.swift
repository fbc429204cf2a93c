import ArgumentParser
import GatewayWire
import JSON

/// `gatewayctl metrics`: every metric of the gateway in the Prometheus text exposition format
/// (what `promtool check metrics` and node_exporter's textfile collector read), or OpenMetrics.
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the gateway's metrics in the Prometheus text format.",
        discussion: """
            The same metrics that metrics.listen serves over HTTP at /metrics. --openmetrics prints \\
            OpenMetrics 1.0 (ending in # EOF); --json the families as GetMetrics returns them.
            """)
    @OptionGroup var options: ClientOptions
    @Flag(help: "Print OpenMetrics 1.0 instead of the Prometheus text format.") var openmetrics = false

    func run() throws {
        let metrics = try Client(options).call(Wire.GetMetrics.self).metrics
        if options.json { return Output.json(.array(metrics.map(\.wireValue))) }
        print(MetricsExposition.render(metrics, as: openmetrics ? .openMetrics : .prometheus), terminator: "")
    }
}
