import ProcessRunner

/// What running an exec quick command came to.
public enum QuickCommandOutcome: Sendable, Equatable {
    case finished(QuickCommandReport)
    /// It could not be run at all (busy, spawn failure).
    case failed(ProcessRunnerError)
}

extension Dispatcher {
    func runExecQuickCommand(
        _ quick: QuickCommand, _ command: String, _ arguments: [String], _ message: InboundMessage,
        _ replies: any ReplySink
    ) async {
        guard access.isAdmin(message) else {
            await replies.send(GatewayText.adminOnly(quick.name))
            return
        }
        let outcome = await executeQuickCommand(quick, command, arguments, message)
        await replies.send(chatReply(for: outcome, quick))
    }

    /// Runs the named quick command as `context`'s sender would (the control socket's
    /// `RunQuickCommand`). Works in every state, draining included. nil when no exec quick
    /// command has that name.
    public func runQuickCommand(named name: String, arguments: [String], context: InboundMessage) async -> QuickCommandOutcome? {
        guard let quick = config.quickCommands[name.lowercased()], case .exec(let command) = quick.kind else { return nil }
        return await executeQuickCommand(quick, command, arguments, context)
    }

    /// The names on offer, for `/commands` and `ListQuickCommands`.
    public func quickCommands() -> [QuickCommand] {
        config.quickCommands.values.sorted { $0.name < $1.name }
    }

    func executeQuickCommand(
        _ quick: QuickCommand, _ command: String, _ arguments: [String], _ message: InboundMessage
    ) async -> QuickCommandOutcome {
        let spec = ProcessSpec.shell(
            command, arguments: quick.passArguments ? arguments : [],
            environment: commandEnvironment(message),
            timeout: quick.timeout ?? config.exec.defaultTimeout,
            outputLimit: config.exec.maxOutput)
        let session = message.sessionKey
        counters.execRunning += 1
        publish(.countersChanged(counters))
        publish(.quickCommandStarted(name: quick.name, session: session))
        let outcome: QuickCommandOutcome
        do {
            let result = try await execRunner.run(spec)
            // stdout if it has anything, else stderr; trimmed; invalid UTF-8 as U+FFFD.
            let chosen = result.standardOutput.bytes.isEmpty ? result.standardError : result.standardOutput
            outcome = .finished(QuickCommandReport(
                name: quick.name, session: session, exitStatus: result.exitStatus, signal: result.signal,
                timedOut: result.timedOut, truncated: chosen.truncated, duration: result.duration,
                output: chosen.text.trimmingWhitespace))
        } catch let error as ProcessRunnerError {
            outcome = .failed(error)
        } catch {
            outcome = .failed(ProcessRunnerError(.spawnFailed, "\(error)"))
        }
        counters.execRunning -= 1
        publish(.countersChanged(counters))
        if case .finished(let report) = outcome { publish(.quickCommandFinished(report)) }
        checkDrained()
        return outcome
    }

    func chatReply(for outcome: QuickCommandOutcome, _ quick: QuickCommand) -> String {
        switch outcome {
        case .failed(let error) where error.code == .busy:
            return GatewayText.execBusy(limit: execRunner.maxConcurrent)
        case .failed(let error):
            return GatewayText.quickCommandError(error.message)
        case .finished(let report):
            if report.timedOut {
                return GatewayText.timedOut(seconds: DurationValue.wholeSeconds(quick.timeout ?? config.exec.defaultTimeout))
            }
            if report.output.isEmpty { return GatewayText.noOutput }
            return report.truncated
                ? report.output + "\n" + GatewayText.outputTruncated(limit: config.exec.maxOutput)
                : report.output
        }
    }

    /// A clean environment: never the daemon's own (no tokens, no NOTIFY_SOCKET).
    func commandEnvironment(_ message: InboundMessage) -> [String: String] {
        [
            "PATH": ProcessRunnerDefaults.path,
            "HOME": config.stateDirectory,
            "LANG": "C.UTF-8",
            "GATEWAY_PLATFORM": message.platform,
            "GATEWAY_CHAT": message.chat,
            "GATEWAY_USER": message.user,
            "GATEWAY_SESSION": message.sessionKey,
        ]
    }
}
