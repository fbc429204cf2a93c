import GatewayControl
import GatewayCore
import GatewayWire
import Logging
import NIOConcurrencyHelpers
import Systemd
import Varlink
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// The registry's counters plus what a scrape reads now: the platforms' health, the
    /// applied revision, the log records dropped (`GetMetrics` and `GET /metrics`).
    nonisolated func metricsScrape() async -> MetricsScrape {
        MetricsScrape(platforms: await platformHealth(), configRevision: configState?.revision,
                      logRecordsDropped: LogWriter.shared.droppedRecords)
    }

    /// Starts the HTTP listener of `metrics.listen`, if set. One that cannot bind is logged and
    /// left off: the gateway serves without it (metrics must never cost it its chats).
    func startMetricsListener() async {
        guard let address = config.metrics.listen else { return }
        let dispatcher = self.dispatcher
        let listener = MetricsListener(address: address, endpoints: MetricsEndpoints(
            metrics: { await dispatcher.metricFamilies(await self.metricsScrape()) },
            alive: { [probe = LivenessProbe(dispatcher: dispatcher, timers: eventLoops.next())] in
                await probe.answers(within: MetricsListener.aliveWithin)
            },
            readinessProblems: { await self.readinessProblems() }), eventLoops: eventLoops)
        do {
            try await listener.start()
            metricsListener = listener
            let bound = ListenAddress(host: address.host, port: listener.boundPort ?? address.port)
            logger.info("metrics at http://\(bound)/metrics", metadata: ["event": "metrics_listen", "address": "\(bound)"])
        } catch {
            logger.error("cannot serve metrics on \(address): \(describeSystemError(error)); running without the metrics listener",
                         metadata: ["event": "metrics_failed", "address": "\(address)"])
        }
    }

    func stopMetricsListener() async {
        await metricsListener?.stop()
        metricsListener = nil
    }

    /// What `gatewayctl health` would print as not ready (`Wire.Status.readinessProblems`).
    nonisolated func readinessProblems() async -> [String] {
        guard let interface = published.withLockedValue({ $0.interface }) else { return ["the gateway is starting"] }
        return await interface.status().readinessProblems
    }
}
