import GatewayWire
import ProcessRunner

/// The registry's cells the dispatcher has looked up, by platform and by quick command (see
/// `Dispatcher.metricCells`).
struct MetricCellCache {
    /// The last platform counted and its cells: messages come in runs from one platform, and a
    /// short string's comparison costs less than hashing it for the dictionary.
    var lastPlatform = ""
    var lastPlatformCells: GatewayMetrics.RouteCells?
    var platforms: [String: GatewayMetrics.RouteCells] = [:]
    var quickCommands: [String: GatewayMetrics.ExecCells] = [:]
}

extension Dispatcher {
    /// A message went `route`: counted once per message in `gatewayd_messages` (`counted`: it
    /// already was, as an alias or `/queue`), and published for the journal and `Subscribe`.
    func dispatched(_ message: InboundMessage, _ route: GatewayEvent.Route, counted: Bool = false) {
        if !counted { countMessage(message.platform, GatewayMetrics.MessageRoute(route)) }
        publish(.messageDispatched(session: message.sessionKey, route: route))
    }

    /// Counts a message in `gatewayd_messages` (and only there: a quick command whose entry is
    /// invalid has no event of its own).
    func countMessage(_ platform: String, _ route: GatewayMetrics.MessageRoute) {
        guard let metrics else { return }
        if let cells = metricCells.lastPlatformCells, metricCells.lastPlatform == platform {
            cells.count(route)
        } else {
            let cells = metricCells.platforms[platform] ?? metrics.messageCells(platform: platform)
            metricCells.platforms[platform] = cells
            metricCells.lastPlatform = platform
            metricCells.lastPlatformCells = cells
            cells.count(route)
        }
    }

    /// Counts an exec quick command's outcome, and its duration when it ran.
    func countExec(_ name: String, _ outcome: QuickCommandOutcome) {
        guard let metrics else { return }
        let cells = metricCells.quickCommands[name] ?? {
            let cells = metrics.execCells(command: name)
            metricCells.quickCommands[name] = cells
            return cells
        }()
        switch outcome {
        case .failed(let error):
            cells.count(error.code == .busy ? .busy : .spawnFailed)
        case .finished(let report):
            cells.observe(report.duration)
            if report.timedOut {
                cells.count(.timedOut)
            } else if report.signal != nil {
                cells.count(.signaled)
            } else {
                cells.count(report.exitStatus == 0 ? .exited0 : .exitedNonzero)
            }
        }
    }

    /// Every metric family, with the dispatcher's counters as the scrape's gauges. A dispatcher
    /// without a registry shows the gauges with empty counters.
    package func metricFamilies(_ scrape: MetricsScrape) -> [Wire.Metric] {
        var scrape = scrape
        scrape.counters = counters
        return (metrics ?? GatewayMetrics()).families(scrape)
    }
}
