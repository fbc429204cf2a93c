import ProcessRunner

/// Whether a quick command asked for by name ran (`Dispatcher.runQuickCommand(named:…)`).
package enum QuickCommandRun: Sendable, Equatable {
    case ran
    /// No exec quick command has that name.
    case notFound
    /// The drain is over and the gateway about to exit.
    case stopping(DrainReason)
}

/// What running an exec quick command came to.
package enum QuickCommandOutcome: Sendable, Equatable {
    case finished(QuickCommandReport)
    /// It could not be run at all (busy, spawn failure).
    case failed(ProcessRunnerError)
}

extension Dispatcher {
    func runExecQuickCommand(
        _ quick: QuickCommand, _ command: String, _ arguments: [String], _ message: InboundMessage,
        _ replies: any ReplySink
    ) async {
        let audit = AuditRecord(caller: AuditCaller(message), action: "/\(quick.name)",
                                arguments: arguments.joined(separator: " "), outcome: .ok)
        guard access.isAdmin(message) else {
            let reply = GatewayText.adminOnly(quick.name)
            self.audit(with(audit) { $0.outcome = .denied(reply) })
            await replies.send(reply)
            return
        }
        await executeQuickCommand(quick, command, arguments, message, audit: audit) { outcome in
            if case .failed(let error) = outcome {
                self.audit(with(audit) { $0.outcome = .failed("\(error.code): \(error.message)") })
            }
            await replies.send(self.chatReply(for: outcome, quick))
        }
    }

    /// Runs the named quick command as `context`'s sender would (the control socket's
    /// `RunQuickCommand`) and hands the outcome to `deliver`. Works while draining (the
    /// operator's tools are what a drain keeps); refused once `stopping`: the control socket is
    /// served until the very end of a stop, and a command begun then would hold the exit.
    /// `deliver` is called only when it ran.
    /// `audit`: the caller's audit record (outcome `ok`), carried by the finished command's
    /// report and so by its journal record.
    package func runQuickCommand(
        named name: String, arguments: [String], context: InboundMessage, audit: AuditRecord? = nil,
        deliver: @Sendable (QuickCommandOutcome) async -> Void
    ) async -> QuickCommandRun {
        if let reason = stoppingReason { return .stopping(reason) }
        guard let quick = config.quickCommands[name.lowercased()], case .exec(let command) = quick.kind else { return .notFound }
        await executeQuickCommand(quick, command, arguments, context, audit: audit, deliver: deliver)
        return .ran
    }

    /// `runQuickCommand(named:arguments:context:deliver:)` for callers that want the value; nil
    /// when it did not run.
    package func runQuickCommand(named name: String, arguments: [String], context: InboundMessage) async -> QuickCommandOutcome? {
        let box = OutcomeBox()
        guard await runQuickCommand(named: name, arguments: arguments, context: context, deliver: { box.value = $0 }) == .ran else {
            return nil
        }
        return box.value
    }

    /// The names on offer, for `/commands` and `ListQuickCommands`.
    package func quickCommands() -> [QuickCommand] {
        config.quickCommands.values.sorted { $0.name < $1.name }
    }

    /// Runs it and hands the outcome to `deliver` *before* telling subscribers: the reply is on
    /// the critical path of an operator's `/restart-backend`, the journal record and the STATUS=
    /// update are not. A started command is announced at once (so `STATUS=` and subscribers see
    /// it while it runs; the runner does not wait for the child's execve, and the announcement's
    /// work overlaps the child's start on another core).
    func executeQuickCommand(
        _ quick: QuickCommand, _ command: String, _ arguments: [String], _ message: InboundMessage,
        audit: AuditRecord?, deliver: (QuickCommandOutcome) async -> Void
    ) async {
        let spec = ProcessSpec.shell(
            command, arguments: quick.passArguments ? arguments : [],
            environment: commandEnvironment(message),
            timeout: quick.timeout ?? config.exec.defaultTimeout,
            outputLimit: config.exec.maxOutput)
        let session = message.sessionKey
        counters.execRunning += 1
        var announced = false
        func announce() {
            announced = true
            publish(.countersChanged(counters))
            publish(.quickCommandStarted(name: quick.name, session: session))
        }
        let outcome: QuickCommandOutcome
        do {
            let result = try await execRunner.run(spec, running: announce)
            // stdout if it has anything, else stderr; trimmed; invalid UTF-8 as U+FFFD.
            let chosen = result.standardOutput.bytes.isEmpty ? result.standardError : result.standardOutput
            outcome = .finished(QuickCommandReport(
                name: quick.name, session: session, exitStatus: result.exitStatus, signal: result.signal,
                timedOut: result.timedOut, truncated: chosen.truncated, duration: result.duration,
                output: chosen.text.trimmingWhitespace, audit: audit))
        } catch let error as ProcessRunnerError {
            outcome = .failed(error)
        } catch {
            outcome = .failed(ProcessRunnerError(.spawnFailed, "\(error)"))
        }
        countExec(quick.name, outcome)
        await deliver(outcome)
        counters.execRunning -= 1
        switch outcome {
        case .finished(let report):
            // Announced: the runner calls `running` before any result.
            publish(.quickCommandFinished(report))
        case .failed(let error) where announced:
            // Announced, then it never got to execve (no such program or directory): its end,
            // with neither exit status nor signal. (Its audit record is the caller's.)
            publish(.quickCommandFinished(QuickCommandReport(
                name: quick.name, session: session, exitStatus: nil, signal: nil, timedOut: false,
                truncated: false, duration: .zero, output: error.message)))
        case .failed:
            break
        }
        if announced { publish(.countersChanged(counters)) }
        checkDrained()
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

/// `value` changed by `change` (a record with another outcome).
fileprivate func with<Value>(_ value: Value, _ change: (inout Value) -> Void) -> Value {
    var copy = value
    change(&copy)
    return copy
}

/// Carries an outcome out of a `deliver` closure (one writer, then read by the same task).
private final class OutcomeBox: @unchecked Sendable {
    var value: QuickCommandOutcome?
}
