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
        // Ready while one endpoint can take a turn: a fallback serving is the point of having one.
        if let agentEndpoints, !agentEndpoints.isEmpty, agentEndpoints.allSatisfy({ $0.breaker == Wire.AgentEndpoint.openBreaker }) {
            let reasons = agentEndpoints.map { "\($0.baseURL): \($0.lastError ?? "failing")" }.joined(separator: "; ")
            problems.append("the agent backend is unavailable, every endpoint's circuit breaker is open (\(reasons))")
        }
        return problems
    }
}
