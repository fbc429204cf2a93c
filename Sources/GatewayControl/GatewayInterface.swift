import GatewayCore
import GatewayWire
import JSON
import Logging
import NIOConcurrencyHelpers
import Varlink
import VarlinkProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The daemon-level actions the interface cannot do through the dispatcher alone.
package protocol GatewayControlHost: Sendable {
    /// Re-reads the configuration file and applies what can change live; throws with every
    /// problem when it is invalid (nothing changes then). `check`: compare only, apply nothing;
    /// `text`: a file's text to check instead of the daemon's own file.
    func reloadConfiguration(check: Bool, text: String?) async throws(ConfigError) -> ReloadOutcome
    /// The running configuration's revision, when it was applied, and what waits for a restart.
    var configState: AppliedConfig? { get async }
    /// The platform adapters running now, for `Status.platforms`.
    var platformNames: [String] { get async }
    /// Each platform's health, for `Status.platform_health`.
    func platformHealth() async -> [(name: String, health: PlatformHealth)]
    /// Why the durable queue is not in use (it could not be opened, or failed since), for
    /// `Status.store_problem`: an operator must learn that acknowledged messages are not safe.
    var storeProblem: String? { get async }
    /// The agent backend and its endpoints' breakers, for `Status.agent_backend` and
    /// `agent_endpoints` (read without waiting: every status call asks).
    var agentState: (backend: String, endpoints: [AgentEndpointStatus])? { get }
    /// What a metrics scrape reads of the daemon beside the dispatcher (`GetMetrics`).
    func metricsScrape() async -> MetricsScrape
}

extension GatewayControlHost {
    package func platformHealth() async -> [(name: String, health: PlatformHealth)] { [] }
    package var storeProblem: String? { get async { nil } }
    package var configState: AppliedConfig? { get async { nil } }
    package var agentState: (backend: String, endpoints: [AgentEndpointStatus])? { nil }
    package func metricsScrape() async -> MetricsScrape {
        MetricsScrape(platforms: await platformHealth(), configRevision: await configState?.revision)
    }
}

/// `io.gatewayd.Gateway` over a `Dispatcher`. Reading methods are open to any peer that can
/// open the socket; changing ones need what `ControlPermissions` says.
package struct GatewayInterface: VarlinkInterface {
    package let name = Wire.interface
    package let definition = String(decoding: PackageResources.io_gatewayd_Gateway_varlink, as: UTF8.self)
    package let dispatcher: Dispatcher
    package let host: any GatewayControlHost
    private let currentPermissions: PermissionsHolder
    let logger: Logger
    let startedAt = ContinuousClock.now

    package init(dispatcher: Dispatcher, host: any GatewayControlHost, permissions: ControlPermissions,
                logger: Logger = Logger(label: "gatewayd.control", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.dispatcher = dispatcher
        self.host = host
        currentPermissions = PermissionsHolder(permissions)
        self.logger = logger
    }

    /// The permissions in force: the ones given at start, or the last `replacePermissions`.
    package var permissions: ControlPermissions { currentPermissions.value.withLockedValue { $0 } }

    /// Puts permissions built from a reloaded configuration in force, for every call from now
    /// on (copies of this interface share them).
    package func replacePermissions(_ permissions: ControlPermissions) {
        currentPermissions.value.withLockedValue { $0 = permissions }
    }

    /// Checks the caller's permission for a changing method, then hands the call to its handler
    /// (`GatewayInterface+Handlers.swift`) with its parameters decoded into GatewayWire's types.
    package func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: VarlinkReplies) async {
        guard let method = Wire.Method(rawValue: call.memberName) else {
            await replies.send(.error(VarlinkError.methodNotFound, ["method": .string(call.method)]))
            return
        }
        // A changing call is an audit record, refused or not (`GatewayInterface+Audit.swift`).
        let unaudited = replies
        var replies = replies, audit: AuditRecord?
        if method.changesState {
            if case .denied(let reason) = permissions.check(peer) {
                auditDenied(method, call, peer, reason: reason)
                await replies.send(.error(VarlinkError.permissionDenied, ["message": .string(reason)]))
                return
            }
            let record = AuditRecord(caller: Self.auditCaller(peer), action: method.rawValue,
                                     arguments: Self.auditArguments(call), outcome: .ok)
            replies = auditing(replies, method, record)
            audit = record
        }
        let more = call.more
        switch method {
        case .getStatus: await answer(Wire.GetStatus.self, call, replies) { _ in await getStatus() }
        case .drain: await serve(Wire.Drain.self, call, replies) { await drain($0, more: more, replies: $1) }
        case .resume: await answer(Wire.Resume.self, call, replies) { _ in await resume() }
        case .reload:
            // A checked text makes the daemon read, as its own user, the files the text names
            // (secrets, certificates): its answers would tell an admin-group member whether such
            // a file exists, its size class, or whether it holds the running secret.
            if let text = call.parameters["config_text"], !text.isNull, peer.uid != 0, peer.uid != permissions.daemonUID {
                // Recorded as refused (not as the error reply the wrapper would record).
                auditDenied(method, call, peer, reason: GatewayText.checkedTextNeedsDaemonUser)
                await unaudited.send(.error(VarlinkError.permissionDenied, ["message": .string(GatewayText.checkedTextNeedsDaemonUser)]))
                return
            }
            await answer(Wire.Reload.self, call, replies) { parameters in
                // Without check the text was ignored and the daemon's own file applied: a caller
                // that meant to apply its text got a reload it had not asked for.
                if parameters.configText != nil && parameters.check != true {
                    throw WireDecodingError(field: "config_text", expected: "string, with check: true")
                }
                return try await reload(parameters)
            }
        case .restart: await answer(Wire.Restart.self, call, replies) { _ in await restart() }
        case .listSessions: await answer(Wire.ListSessions.self, call, replies) { _ in await listSessions() }
        case .stopTurn: await answer(Wire.StopTurn.self, call, replies) { await stopTurn($0) }
        case .resetSession: await answer(Wire.ResetSession.self, call, replies) { try await resetSession($0) }
        case .listQuickCommands: await answer(Wire.ListQuickCommands.self, call, replies) { _ in await listQuickCommands() }
        case .runQuickCommand:
            await serve(Wire.RunQuickCommand.self, call, replies) { try await runQuickCommand($0, peer: peer, audit: audit, replies: $1) }
        case .sendMessage:
            if more {
                await serve(Wire.SendMessage.self, call, replies) { try await streamMessage($0, peer: peer, replies: $1) }
            } else {
                await answer(Wire.SendMessage.self, call, replies) { try await sendMessage($0, peer: peer) }
            }
        case .subscribe: await serve(Wire.Subscribe.self, call, replies) { _, replies in await subscribe(more: more, replies: replies) }
        case .getMetrics: await answer(Wire.GetMetrics.self, call, replies) { _ in await getMetrics() }
        }
    }

    /// A method with one reply: decodes the parameters, runs `handler`, encodes its result.
    private func answer<Method: WireMethod>(
        _ method: Method.Type, _ call: VarlinkCall, _ replies: VarlinkReplies,
        _ handler: (Method.Parameters) async throws -> Method.Result
    ) async {
        await serve(method, call, replies) { parameters, replies in await replies.send(try await handler(parameters)) }
    }

    /// A method that sends its replies itself (streams, and a quick command's early answer):
    /// parameters of the wrong shape answer `InvalidParameter`; errors thrown become error replies.
    private func serve<Method: WireMethod>(
        _ method: Method.Type, _ call: VarlinkCall, _ replies: VarlinkReplies,
        _ handler: (Method.Parameters, MethodReplies<Method>) async throws -> Void
    ) async {
        let parameters: Method.Parameters
        do {
            parameters = try Method.Parameters(parameters: call.parameters)
        } catch {
            await replies.send(Self.invalidParameter(error))
            return
        }
        do {
            try await handler(parameters, MethodReplies(replies: replies))
        } catch {
            await replies.send(errorReply(error, method: Method.method))
        }
    }

    /// `InvalidParameter` names the call's parameter (`args`, not `args[1]`).
    static func invalidParameter(_ error: WireDecodingError) -> VarlinkReply {
        .error(VarlinkError.invalidParameter, ["parameter": .string(String(error.field.prefix { $0 != "." && $0 != "[" }))])
    }

    /// The reply for an error a handler threw: a declared error as it is; anything else, which
    /// nothing should throw, becomes `InternalError` with a message for a person (the error
    /// itself goes to the journal, never to the wire: it may be a dump of Swift values).
    func errorReply(_ error: any Error, method: Wire.Method) -> VarlinkReply {
        if let failure = error as? Wire.Failure { return .error(failure.name, failure.parameters) }
        if let invalid = error as? WireDecodingError { return Self.invalidParameter(invalid) }
        logger.error("control: \(method.rawValue) failed unexpectedly: \(String(reflecting: error))", metadata: [
            "event": "control_failed", "method": "\(method.rawValue)",
        ])
        let failure = Wire.Failure.internalError(message: GatewayText.controlCallFailed(method.rawValue))
        return .error(failure.name, failure.parameters)
    }

    /// Peer names by uid: a passwd lookup reads /etc/passwd (or asks NSS) every time, which
    /// would cost more than the rest of a `RunQuickCommand` call.
    private static let userNames = NIOLockedValueBox<[UInt32: String]>([:])

    static func userName(_ uid: UInt32) -> String {
        if let cached = userNames.withLockedValue({ $0[uid] }) { return cached }
        let name = lookUpUserName(uid)
        userNames.withLockedValue { $0[uid] = name }
        return name
    }

    private static func lookUpUserName(_ uid: UInt32) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let result, let name = result.pointee.pw_name {
            return String(cString: name)
        }
        return "uid\(uid)"
    }
}

/// The permissions shared by every copy of an interface, replaced on reload.
final class PermissionsHolder: Sendable {
    let value: NIOLockedValueBox<ControlPermissions>
    init(_ permissions: ControlPermissions) { value = NIOLockedValueBox(permissions) }
}

/// Sends each reply to a `SendMessage` called with `more` as soon as the dispatcher hands it
/// over (an agent's answer line by line while it is generated); the call's last reply, without
/// `continues`, has no replies. A reply after that is announced, as `ReplyCollector` does.
actor ReplyStreamer: ReplySink {
    let chat: ChatAddress
    let dispatcher: Dispatcher
    let replies: MethodReplies<Wire.SendMessage>
    private var answered = false

    init(chat: ChatAddress, dispatcher: Dispatcher, replies: MethodReplies<Wire.SendMessage>) {
        self.chat = chat
        self.dispatcher = dispatcher
        self.replies = replies
    }

    func send(_ text: String) async {
        guard answered else {
            _ = await replies.send(Wire.SendMessage.Result(replies: [text]), continues: true)
            return
        }
        await dispatcher.announceLateReply(text, to: chat)
    }

    func finish() async {
        answered = true
        _ = await replies.send(Wire.SendMessage.Result(replies: []))
    }
}

/// Collects the dispatcher's replies to one `SendMessage` until the call is answered; a reply
/// after that (the turn of a message that was queued behind a busy one) is announced to the
/// event stream and the journal instead of vanishing with the finished call.
actor ReplyCollector: ReplySink {
    let chat: ChatAddress
    let dispatcher: Dispatcher
    private var texts: [String] = []
    private var answered = false

    init(chat: ChatAddress, dispatcher: Dispatcher) {
        self.chat = chat
        self.dispatcher = dispatcher
    }

    func send(_ text: String) async {
        guard answered else { return texts.append(text) }
        await dispatcher.announceLateReply(text, to: chat)
    }

    /// The replies so far, for the call's answer; later ones are announced.
    func finish() -> [String] {
        answered = true
        return texts
    }
}
