import GatewayCore
import GatewayWire
import Varlink
import VarlinkProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Sends the typed replies of one call of `Method`.
struct MethodReplies<Method: WireMethod>: Sendable {
    let replies: VarlinkReplies

    /// Returns false once the client is gone (a stream stops then).
    @discardableResult
    func send(_ result: Method.Result, continues: Bool = false) async -> Bool {
        await replies.send(VarlinkReply(parameters: result.parameters, continues: continues))
    }

    func send(_ failure: Wire.Failure) async {
        await replies.send(.error(failure.name, failure.parameters))
    }
}

/// One handler per method of `io.gatewayd.Gateway`, in the order of the interface file.
extension GatewayInterface {
    func getStatus() async -> Wire.StatusResult { Wire.StatusResult(status: await status()) }

    /// Without `more`, one reply once the drain has begun; with it, a reply per change until
    /// nothing is in flight (or the drain is left).
    func drain(_ parameters: Wire.Drain.Parameters, more: Bool, replies: MethodReplies<Wire.Drain>) async {
        let events = more ? await dispatcher.subscribe() : nil
        await dispatcher.beginDrain(.admin, timeout: parameters.timeoutUsec.map { .microseconds($0) })
        guard let events else {
            await replies.send(await getStatus())
            return
        }
        while true {
            let snapshot = await dispatcher.snapshot
            let done = !snapshot.state.refusesNewWork || snapshot.isDrained
            guard await replies.send(await getStatus(), continues: !done), !done else { return }
            for await event in events {
                if case .countersChanged = event { break }
                if case .stateChanged = event { break }
            }
        }
    }

    func resume() async -> Wire.StatusResult {
        await dispatcher.resume()
        return await getStatus()
    }

    func reload(_ parameters: Wire.Reload.Parameters) async throws(Wire.Failure) -> Wire.Reload.Result {
        let outcome: ReloadOutcome
        do {
            outcome = try await host.reloadConfiguration(check: parameters.check ?? false, text: parameters.configText)
        } catch {
            throw .configInvalid(message: error.description, problems: error.problems.map(Self.wire))
        }
        return Wire.Reload.Result(
            status: await status(), applied: outcome.applied, revision: outcome.revision ?? Wire.Status.defaultsRevision,
            changes: outcome.changes.map { Wire.ConfigChange(section: $0.section, summary: $0.summary, applies: $0.applies.wireName) },
            problems: outcome.warnings.map(Self.wire))
    }

    static func wire(_ problem: ConfigProblem) -> Wire.ConfigProblem {
        Wire.ConfigProblem(severity: problem.severity.rawValue, path: problem.path, line: problem.line, message: problem.message)
    }

    func restart() async -> Wire.StatusResult {
        await dispatcher.beginDrain(.restart)
        return await getStatus()
    }

    func listSessions() async -> Wire.ListSessions.Result {
        Wire.ListSessions.Result(sessions: await dispatcher.sessionSnapshots().map {
            Wire.Session(key: $0.key, turnRunning: $0.turnRunning, queued: $0.queued, turns: $0.turnCount,
                         tokensIn: $0.usage.tokensIn, tokensOut: $0.usage.tokensOut)
        })
    }

    func stopTurn(_ parameters: Wire.SessionParameters) async -> Wire.StopTurn.Result {
        Wire.StopTurn.Result(stopped: await dispatcher.stopTurn(session: parameters.session))
    }

    func resetSession(_ parameters: Wire.SessionParameters) async throws(Wire.Failure) -> Wire.ResetSession.Result {
        guard await dispatcher.resetSession(parameters.session) else { throw .noSuchSession(key: parameters.session) }
        return Wire.ResetSession.Result(reset: true)
    }

    func listQuickCommands() async -> Wire.ListQuickCommands.Result {
        Wire.ListQuickCommands.Result(commands: await dispatcher.quickCommands().map(Self.wire))
    }

    /// Answers as soon as the command is over, before the dispatcher tells its subscribers.
    /// `audit`: the caller's record, which the command's own journal record carries.
    func runQuickCommand(_ parameters: Wire.RunQuickCommand.Parameters, peer: PeerCredentials, audit: AuditRecord?,
                         replies: MethodReplies<Wire.RunQuickCommand>) async throws(Wire.Failure) {
        let name = parameters.name
        let context = InboundMessage(platform: GatewayConstants.localPlatform, chat: "control",
                                     user: Self.userName(peer.uid), text: "/\(name)")
        let run = await dispatcher.runQuickCommand(named: name, arguments: parameters.args ?? [], context: context,
                                                   audit: audit) { outcome in
            switch outcome {
            case .failed(let error):
                await replies.send(.quickCommandFailed(name: name, message: error.message))
            case .finished(let report):
                await replies.send(Wire.RunQuickCommand.Result(
                    output: report.output, exitStatus: report.exitStatus.map(Int.init), signal: report.signal.map(Int.init),
                    timedOut: report.timedOut, truncated: report.truncated, durationUsec: Self.microseconds(report.duration)))
            }
        }
        switch run {
        case .ran: return
        case .notFound: throw .noSuchQuickCommand(name: name)
        case .stopping(let reason): throw .stopping(reason: reason.rawValue, message: GatewayText.stoppingRefusal(reason))
        }
    }

    /// As `local:<the caller's user>`; root may name another user.
    func sendMessage(_ parameters: Wire.SendMessage.Parameters, peer: PeerCredentials) async throws(Wire.Failure) -> Wire.SendMessage.Result {
        let message = try await localMessage(parameters, peer: peer)
        let collector = ReplyCollector(chat: ChatAddress(platform: message.platform, chat: message.chat), dispatcher: dispatcher)
        if let reason = await dispatcher.handleUnlessStopping(message, replies: collector) {
            throw .stopping(reason: reason.rawValue, message: GatewayText.stoppingRefusal(reason))
        }
        return Wire.SendMessage.Result(replies: await collector.finish())
    }

    /// `SendMessage` with `more`: each reply as it comes, then an empty last one.
    func streamMessage(_ parameters: Wire.SendMessage.Parameters, peer: PeerCredentials,
                       replies: MethodReplies<Wire.SendMessage>) async throws(Wire.Failure) {
        let message = try await localMessage(parameters, peer: peer)
        let streamer = ReplyStreamer(chat: ChatAddress(platform: message.platform, chat: message.chat), dispatcher: dispatcher,
                                     replies: replies)
        if let reason = await dispatcher.handleUnlessStopping(message, replies: streamer) {
            throw .stopping(reason: reason.rawValue, message: GatewayText.stoppingRefusal(reason))
        }
        await streamer.finish()
    }

    private func localMessage(_ parameters: Wire.SendMessage.Parameters, peer: PeerCredentials) async throws(Wire.Failure) -> InboundMessage {
        let platform = GatewayConstants.localPlatform
        guard await dispatcher.config.platforms.localEnabled else {
            throw .platformDisabled(platform: platform, message: GatewayText.localPlatformDisabled)
        }
        let user = (peer.uid == 0 ? parameters.user : nil) ?? Self.userName(peer.uid)
        return InboundMessage(platform: platform, chat: parameters.chat ?? user, user: user, text: parameters.text)
    }

    /// The status first, then an event per reply until the client goes.
    func subscribe(more: Bool, replies: MethodReplies<Wire.Subscribe>) async {
        guard more else {
            await replies.replies.send(.error(VarlinkError.expectedMore))
            return
        }
        let events = await dispatcher.subscribe()
        guard await replies.send(Wire.Subscribe.Result(status: await status()), continues: true) else { return }
        for await event in events {
            guard await replies.send(Wire.Subscribe.Result(event: Self.wire(event)), continues: true) else { return }
        }
    }

    /// The `Status` type of the interface.
    /// Every metric family (`GetMetrics`): the dispatcher's registry and the host's gauges.
    func getMetrics() async -> Wire.GetMetrics.Result {
        Wire.GetMetrics.Result(metrics: await dispatcher.metricFamilies(await host.metricsScrape()))
    }

    package func status() async -> Wire.Status {
        let snapshot = await dispatcher.snapshot
        let health = await host.platformHealth().map {
            Wire.PlatformHealth(name: $0.name, health: $0.health.state.rawValue, detail: $0.health.detail)
        }
        var status = Wire.Status(
            state: snapshot.state.name, reason: snapshot.state.reason?.rawValue, pid: Int(getpid()), version: GatewayConstants.version,
            uptimeUsec: Self.microseconds(ContinuousClock.now - startedAt), turnsInFlight: snapshot.counters.turnsInFlight,
            execRunning: snapshot.counters.execRunning, sessions: snapshot.counters.sessions, platforms: await host.platformNames,
            platformHealth: health.isEmpty ? nil : health, storeProblem: await host.storeProblem)
        if let applied = await host.configState {
            status.configRevision = applied.revision ?? Wire.Status.defaultsRevision
            status.configLoadedUsec = applied.loadedUsec
            status.restartNeeded = applied.restartNeeded.isEmpty ? nil : applied.restartNeeded
        }
        if let agent = host.agentState {
            status.agentBackend = agent.backend
            let endpoints = agent.endpoints.map {
                Wire.AgentEndpoint(baseURL: $0.baseURL, model: $0.model, breaker: $0.breaker.rawValue,
                                   consecutiveFailures: $0.consecutiveFailures, lastError: $0.lastError,
                                   lastErrorUsec: $0.lastErrorUsec.map { Int($0) })
            }
            status.agentEndpoints = endpoints.isEmpty ? nil : endpoints
        }
        return status
    }
}
