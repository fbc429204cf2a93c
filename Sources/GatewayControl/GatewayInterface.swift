import GatewayCore
import Logging
import Synchronization
import Varlink
#if canImport(Glibc)
import Glibc
#endif

/// The daemon-level actions the interface cannot do through the dispatcher alone.
public protocol GatewayControlHost: Sendable {
    /// Re-reads the configuration file and applies it; throws with the reason when it is invalid
    /// (the old configuration then stays).
    func reloadConfiguration() async throws(ConfigError)
    /// The platform adapters running now, for `Status.platforms`.
    var platformNames: [String] { get async }
    /// Each platform's health, for `Status.platform_health`.
    func platformHealth() async -> [(name: String, health: PlatformHealth)]
    /// Why the durable queue is not in use (it could not be opened, or failed since), for
    /// `Status.store_problem`: an operator must learn that acknowledged messages are not safe.
    var storeProblem: String? { get async }
}

extension GatewayControlHost {
    public func platformHealth() async -> [(name: String, health: PlatformHealth)] { [] }
    public var storeProblem: String? { get async { nil } }
}

/// `io.gatewayd.Gateway` over a `Dispatcher`. Reading methods are open to any peer that can
/// open the socket; changing ones need what `ControlPermissions` says.
public struct GatewayInterface: VarlinkInterface {
    public let name = GatewayWire.interface
    public let definition = String(decoding: PackageResources.io_gatewayd_Gateway_varlink, as: UTF8.self)
    public let dispatcher: Dispatcher
    public let host: any GatewayControlHost
    private let currentPermissions: PermissionsHolder
    let logger: Logger
    let startedAt = ContinuousClock.now

    public init(dispatcher: Dispatcher, host: any GatewayControlHost, permissions: ControlPermissions,
                logger: Logger = Logger(label: "gatewayd.control", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.dispatcher = dispatcher
        self.host = host
        currentPermissions = PermissionsHolder(permissions)
        self.logger = logger
    }

    /// The permissions in force: the ones given at start, or the last `replacePermissions`.
    public var permissions: ControlPermissions { currentPermissions.value.withLock { $0 } }

    /// Puts permissions built from a reloaded configuration in force, for every call from now
    /// on (copies of this interface share them).
    public func replacePermissions(_ permissions: ControlPermissions) {
        currentPermissions.value.withLock { $0 = permissions }
    }

    public func handle(_ call: VarlinkCall, peer: PeerCredentials, replies: VarlinkReplies) async {
        guard let method = GatewayWire.Method(rawValue: call.memberName) else {
            await replies.send(.error(VarlinkError.methodNotFound, ["method": .string(call.method)]))
            return
        }
        if method.changesState, case .denied(let reason) = permissions.check(peer) {
            logger.notice("control: \(method.rawValue) refused to pid \(peer.pid) (uid \(peer.uid)): \(reason)", metadata: [
                "event": "control_denied", "method": "\(method.rawValue)", "uid": "\(peer.uid)", "pid": "\(peer.pid)",
            ])
            await replies.send(.error(VarlinkError.permissionDenied, ["message": .string(reason)]))
            return
        }
        do {
            try await run(method, call, peer, replies)
        } catch let error as InvalidParameter {
            await replies.send(.error(VarlinkError.invalidParameter, ["parameter": .string(error.name)]))
        } catch {
            await replies.send(.error(VarlinkError.invalidParameter, ["parameter": .string("\(error)")]))
        }
    }

    private func run(_ method: GatewayWire.Method, _ call: VarlinkCall, _ peer: PeerCredentials,
                     _ replies: VarlinkReplies) async throws {
        let parameters = Parameters(call.parameters)
        switch method {
        case .getStatus:
            await replies.send(VarlinkReply(parameters: ["status": await status()]))
        case .drain:
            let timeout = try parameters.optionalInt("timeout_usec").map { Duration.microseconds($0) }
            let events = call.more ? await dispatcher.subscribe() : nil
            await dispatcher.beginDrain(.admin, timeout: timeout)
            guard let events else {
                await replies.send(VarlinkReply(parameters: ["status": await status()]))
                return
            }
            // A reply per change until nothing is in flight (or the drain is left).
            while true {
                let snapshot = await dispatcher.snapshot
                let done = !snapshot.state.refusesNewWork || snapshot.isDrained
                guard await replies.send(VarlinkReply(parameters: ["status": await status()], continues: !done)), !done else { return }
                for await event in events {
                    if case .countersChanged = event { break }
                    if case .stateChanged = event { break }
                }
            }
        case .resume:
            await dispatcher.resume()
            await replies.send(VarlinkReply(parameters: ["status": await status()]))
        case .reload:
            do {
                try await host.reloadConfiguration()
                await replies.send(VarlinkReply(parameters: ["status": await status()]))
            } catch {
                await replies.send(.error(GatewayWire.Error.configInvalid, ["message": .string(error.description)]))
            }
        case .restart:
            await dispatcher.beginDrain(.restart)
            await replies.send(VarlinkReply(parameters: ["status": await status()]))
        case .listSessions:
            let sessions = await dispatcher.sessionSnapshots().map { session -> JSONValue in
                ["key": .string(session.key), "turn_running": .bool(session.turnRunning),
                 "queued": .int(Int64(session.queued)), "turns": .int(Int64(session.turnCount))]
            }
            await replies.send(VarlinkReply(parameters: ["sessions": .array(sessions)]))
        case .stopTurn, .resetSession:
            let key = try parameters.string("session")
            let done = method == .stopTurn ? await dispatcher.stopTurn(session: key) : await dispatcher.resetSession(key)
            if !done && method == .resetSession {
                await replies.send(.error(GatewayWire.Error.noSuchSession, ["key": .string(key)]))
                return
            }
            await replies.send(VarlinkReply(parameters: [method == .stopTurn ? "stopped" : "reset": .bool(done)]))
        case .listQuickCommands:
            let commands = await dispatcher.quickCommands().map(Self.encode)
            await replies.send(VarlinkReply(parameters: ["commands": .array(commands)]))
        case .runQuickCommand:
            let name = try parameters.string("name")
            let arguments = try parameters.optionalStrings("args") ?? []
            let context = InboundMessage(platform: GatewayConstants.localPlatform, chat: "control",
                                         user: Self.userName(peer.uid), text: "/\(name)")
            let found = await dispatcher.runQuickCommand(named: name, arguments: arguments, context: context) { outcome in
                switch outcome {
                case .failed(let error):
                    await replies.send(.error(GatewayWire.Error.quickCommandFailed,
                                              ["name": .string(name), "message": .string(error.message)]))
                case .finished(let report):
                    var result: [String: JSONValue] = [
                        "output": .string(report.output), "timed_out": .bool(report.timedOut),
                        "truncated": .bool(report.truncated), "duration_usec": .int(Self.microseconds(report.duration)),
                    ]
                    if let status = report.exitStatus { result["exit_status"] = .int(Int64(status)) }
                    if let signal = report.signal { result["signal"] = .int(Int64(signal)) }
                    await replies.send(VarlinkReply(parameters: result))
                }
            }
            if !found {
                await replies.send(.error(GatewayWire.Error.noSuchQuickCommand, ["name": .string(name)]))
            }
        case .sendMessage:
            guard await dispatcher.config.platforms.localEnabled else {
                await replies.send(.error(GatewayWire.Error.platformDisabled, [
                    "platform": .string(GatewayConstants.localPlatform), "message": .string(GatewayText.localPlatformDisabled),
                ]))
                return
            }
            let text = try parameters.string("text")
            let requested = try parameters.optionalString("user")
            let user = (peer.uid == 0 ? requested : nil) ?? Self.userName(peer.uid)
            let chat = try parameters.optionalString("chat") ?? user
            let collector = ReplyCollector(chat: ChatAddress(platform: GatewayConstants.localPlatform, chat: chat), dispatcher: dispatcher)
            await dispatcher.handle(InboundMessage(platform: GatewayConstants.localPlatform, chat: chat, user: user, text: text),
                                    replies: collector)
            await replies.send(VarlinkReply(parameters: ["replies": .array(await collector.finish().map { .string($0) })]))
        case .subscribe:
            guard call.more else {
                await replies.send(.error(VarlinkError.expectedMore))
                return
            }
            let events = await dispatcher.subscribe()
            guard await replies.send(VarlinkReply(parameters: ["status": await status()], continues: true)) else { return }
            for await event in events {
                guard await replies.send(VarlinkReply(parameters: ["event": Self.encode(event)], continues: true)) else { return }
            }
        }
    }

    /// The `Status` type of the interface.
    func status() async -> JSONValue {
        let snapshot = await dispatcher.snapshot
        var status: [String: JSONValue] = [
            "state": .string(snapshot.state.name),
            "pid": .int(Int64(getpid())),
            "version": .string(GatewayConstants.version),
            "uptime_usec": .int(Self.microseconds(ContinuousClock.now - startedAt)),
            "turns_in_flight": .int(Int64(snapshot.counters.turnsInFlight)),
            "exec_running": .int(Int64(snapshot.counters.execRunning)),
            "sessions": .int(Int64(snapshot.counters.sessions)),
            "platforms": .array(await host.platformNames.map { .string($0) }),
        ]
        if let reason = snapshot.state.reason { status["reason"] = .string(reason.rawValue) }
        if let problem = await host.storeProblem { status["store_problem"] = .string(problem) }
        let health = await host.platformHealth()
        if !health.isEmpty {
            status["platform_health"] = .array(health.map { entry -> JSONValue in
                ["name": .string(entry.name), "health": .string(entry.health.state.rawValue), "detail": .string(entry.health.detail)]
            })
        }
        return .object(status)
    }

    static func microseconds(_ duration: Duration) -> Int64 { DurationValue.microseconds(duration) }

    /// Peer names by uid: a passwd lookup reads /etc/passwd (or asks NSS) every time, which
    /// would cost more than the rest of a `RunQuickCommand` call.
    private static let userNames = Mutex<[UInt32: String]>([:])

    static func userName(_ uid: UInt32) -> String {
        if let cached = userNames.withLock({ $0[uid] }) { return cached }
        let name = lookUpUserName(uid)
        userNames.withLock { $0[uid] = name }
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
    let value: Mutex<ControlPermissions>
    init(_ permissions: ControlPermissions) { value = Mutex(permissions) }
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

struct InvalidParameter: Error {
    let name: String
}

/// Typed reads of call parameters; a wrong type names the parameter (`InvalidParameter`).
struct Parameters {
    let values: [String: JSONValue]
    init(_ values: [String: JSONValue]) { self.values = values }

    func string(_ name: String) throws -> String {
        guard let value = values[name]?.string else { throw InvalidParameter(name: name) }
        return value
    }

    func optionalString(_ name: String) throws -> String? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let text = value.string else { throw InvalidParameter(name: name) }
        return text
    }

    func optionalInt(_ name: String) throws -> Int64? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let number = value.int, number >= 0 else { throw InvalidParameter(name: name) }
        return number
    }

    func optionalStrings(_ name: String) throws -> [String]? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let array = value.array else { throw InvalidParameter(name: name) }
        return try array.map { item in
            guard let text = item.string else { throw InvalidParameter(name: name) }
            return text
        }
    }
}
