import GatewayWire

extension GatewayMetrics {
    /// Every family of `MetricNames.all`, in that order, with the registry's values and the
    /// scrape's gauges. Label sets that exist are all shown, zeros included (a counter that
    /// appears only once it moved breaks `rate()` at its first step).
    package func families(_ scrape: MetricsScrape) -> [Wire.Metric] {
        typealias Sample = Wire.MetricSample
        func counter(_ family: MetricNames.Family, _ samples: [Sample]) -> Wire.Metric {
            Wire.Metric(name: family.name, type: .counter, help: family.help, samples: samples)
        }
        func gauge(_ family: MetricNames.Family, _ value: Double, labels: [(name: String, value: String)] = []) -> Wire.Metric {
            Wire.Metric(name: family.name, type: .gauge, help: family.help, samples: [Sample(labels: labels, value: value)])
        }
        func histogram(_ family: MetricNames.Family, _ cells: [(labels: [(name: String, value: String)], cell: HistogramCell)]) -> Wire.Metric {
            var samples: [Sample] = []
            for (labels, cell) in cells {
                let (cumulative, sum) = cell.snapshot
                for (index, count) in cumulative.enumerated() {
                    let bound = index < cell.bounds.count ? MetricsExposition.number(cell.bounds[index]) : "+Inf"
                    samples.append(Sample(suffix: "_bucket", labels: labels + [("le", bound)], value: Double(count)))
                }
                samples.append(Sample(suffix: "_sum", labels: labels, value: sum))
                samples.append(Sample(suffix: "_count", labels: labels, value: Double(cumulative.last ?? 0)))
            }
            return Wire.Metric(name: family.name, type: .histogram, help: family.help, samples: samples)
        }
        let total = "_total"
        var routeSamples: [Sample] = []
        for (labels, cells) in messages.all {
            for route in MessageRoute.allCases {
                routeSamples.append(Sample(suffix: total, labels: [("platform", labels[0]), ("route", route.label)],
                                           value: Double(cells.routes.value(at: route.rawValue))))
            }
        }
        let execs = exec.all
        var execSamples: [Sample] = []
        for (labels, cells) in execs {
            for outcome in ExecOutcome.allCases {
                execSamples.append(Sample(suffix: total, labels: [("command", labels[0]), ("outcome", outcome.label)],
                                          value: Double(cells.outcomes.value(at: outcome.rawValue))))
            }
        }
        let turnSamples = TurnOutcome.allCases.map {
            Sample(suffix: total, labels: [("outcome", $0.label)], value: Double(turns.value(at: $0.rawValue)))
        }
        let tokenSamples = [Sample(suffix: total, labels: [("direction", "in")], value: Double(tokensIn.value)),
                            Sample(suffix: total, labels: [("direction", "out")], value: Double(tokensOut.value))]
        let errorSamples = agentErrors.all.map { Sample(suffix: total, labels: [("kind", $0.labels[0])], value: Double($0.cell.value)) }
        let replySamples = replies.all.map {
            Sample(suffix: total, labels: [("platform", $0.labels[0]), ("outcome", $0.labels[1])], value: Double($0.cell.value))
        }
        var reconnectCounts: [(String, UInt64)] = reconnects.all.map { ($0.labels[0], $0.cell.value) }
        for platform in scrape.platforms where !reconnectCounts.contains(where: { $0.0 == platform.name }) {
            reconnectCounts.append((platform.name, 0))
        }
        return [
            counter(MetricNames.messages, routeSamples),
            counter(MetricNames.execRuns, execSamples),
            histogram(MetricNames.execDuration, execs.map { ([("command", $0.labels[0])], $0.cell.duration) }),
            gauge(MetricNames.execRunning, Double(scrape.counters.execRunning)),
            counter(MetricNames.turns, turnSamples),
            histogram(MetricNames.turnDuration, [([], turnDuration)]),
            gauge(MetricNames.turnsInFlight, Double(scrape.counters.turnsInFlight)),
            counter(MetricNames.agentTokens, tokenSamples),
            counter(MetricNames.agentErrors, errorSamples),
            counter(MetricNames.replies, replySamples),
            gauge(MetricNames.queueDepth, Double(scrape.counters.queued)),
            histogram(MetricNames.storeCommitDuration, [([], storeCommit)]),
            counter(MetricNames.logRecordsDropped, [Sample(suffix: total, value: Double(scrape.logRecordsDropped))]),
            Wire.Metric(name: MetricNames.platformConnected.name, type: .gauge, help: MetricNames.platformConnected.help,
                        samples: scrape.platforms.map { Sample(labels: [("platform", $0.name)], value: $0.health.state == .up ? 1 : 0) }),
            counter(MetricNames.platformReconnects, reconnectCounts.map { Sample(suffix: total, labels: [("platform", $0.0)], value: Double($0.1)) }),
            gauge(MetricNames.sessions, Double(scrape.counters.sessions)),
            gauge(MetricNames.startTime, startTimeSeconds),
            Wire.Metric(name: MetricNames.config.name, type: .info, help: MetricNames.config.help,
                        samples: [Sample(suffix: "_info", labels: [("revision", scrape.configRevision ?? Wire.Status.defaultsRevision)], value: 1)]),
        ]
    }
}
