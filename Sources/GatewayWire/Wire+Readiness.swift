extension Wire.Status {
    /// Why the gateway is not ready; empty when it is. Ready: running (not starting, draining or
    /// stopping), every enabled platform up, the durable queue in use. One reckoning for
    /// `gatewayctl health` and the metrics listener's `GET /readyz`.
    package var readinessProblems: [String] {
        var problems: [String] = []
        if state != "running" {
            problems.append("the gateway is \(state)" + (reason.map { " (\($0))" } ?? ""))
        }
        for platform in platformHealth ?? [] where platform.health != "up" {
            problems.append("platform \(platform.name) is \(platform.health): \(platform.detail)")
        }
        if let storeProblem { problems.append("the durable queue is not in use: \(storeProblem)") }
        return problems
    }
}
