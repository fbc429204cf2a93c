import JSON

extension Wire {
    /// The errors the interface declares, as a daemon sends them and gatewayctl reads them.
    package enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case noSuchQuickCommand(name: String)
        case quickCommandFailed(name: String, message: String)
        case noSuchSession(key: String)
        /// `problems`: every one the file has, errors and warnings (absent from older daemons).
        case configInvalid(message: String, problems: [ConfigProblem]? = nil)
        /// `SendMessage` while `platforms.local.enabled` is false.
        case platformDisabled(platform: String, message: String)
        /// `RunQuickCommand` or `SendMessage` once the drain is over and the daemon is about to
        /// exit (`reason`: stop or restart); while it drains they still run.
        case stopping(reason: String, message: String)
        /// Anything the gateway did not expect; `message` is for a person (the details are in
        /// the daemon's journal).
        case internalError(message: String)

        /// The names, qualified (`io.gatewayd.Gateway.NoSuchSession`).
        package enum Name {
            package static let noSuchQuickCommand = "\(Wire.interface).NoSuchQuickCommand"
            package static let quickCommandFailed = "\(Wire.interface).QuickCommandFailed"
            package static let noSuchSession = "\(Wire.interface).NoSuchSession"
            package static let configInvalid = "\(Wire.interface).ConfigInvalid"
            package static let platformDisabled = "\(Wire.interface).PlatformDisabled"
            package static let stopping = "\(Wire.interface).Stopping"
            package static let internalError = "\(Wire.interface).InternalError"
        }

        enum Key: String { case name, message, key, platform, reason, problems }

        package var name: String {
            switch self {
            case .noSuchQuickCommand: Name.noSuchQuickCommand
            case .quickCommandFailed: Name.quickCommandFailed
            case .noSuchSession: Name.noSuchSession
            case .configInvalid: Name.configInvalid
            case .platformDisabled: Name.platformDisabled
            case .stopping: Name.stopping
            case .internalError: Name.internalError
            }
        }

        /// The error's parameters.
        package var parameters: [String: JSONValue] {
            var object = WireWriter()
            switch self {
            case .noSuchQuickCommand(let name):
                object.set(Key.name, name)
            case .quickCommandFailed(let name, let message):
                object.set(Key.name, name)
                object.set(Key.message, message)
            case .noSuchSession(let key):
                object.set(Key.key, key)
            case .configInvalid(let message, let problems):
                object.set(Key.message, message)
                object.set(Key.problems, problems)
            case .internalError(let message):
                object.set(Key.message, message)
            case .platformDisabled(let platform, let message):
                object.set(Key.platform, platform)
                object.set(Key.message, message)
            case .stopping(let reason, let message):
                object.set(Key.reason, reason)
                object.set(Key.message, message)
            }
            return object.members
        }

        /// The declared error a reply names; nil for another name (a standard varlink error, or
        /// one from a newer daemon).
        package init?(name: String, parameters: [String: JSONValue]) throws(WireDecodingError) {
            let object = WireReader(parameters, at: "")
            switch name {
            case Name.noSuchQuickCommand: self = .noSuchQuickCommand(name: try object.required(Key.name))
            case Name.quickCommandFailed:
                self = .quickCommandFailed(name: try object.required(Key.name), message: try object.required(Key.message))
            case Name.noSuchSession: self = .noSuchSession(key: try object.required(Key.key))
            case Name.configInvalid:
                self = .configInvalid(message: try object.required(Key.message), problems: try object.optional(Key.problems))
            case Name.platformDisabled:
                self = .platformDisabled(platform: try object.required(Key.platform), message: try object.required(Key.message))
            case Name.stopping:
                self = .stopping(reason: try object.required(Key.reason), message: try object.required(Key.message))
            case Name.internalError: self = .internalError(message: try object.required(Key.message))
            default: return nil
            }
        }

        package var description: String {
            switch self {
            case .noSuchQuickCommand(let name): "no exec quick command named '\(name)'"
            case .quickCommandFailed(let name, let message): "/\(name) failed: \(message)"
            case .noSuchSession(let key): "no session '\(key)'"
            case .configInvalid(let message, _), .internalError(let message), .platformDisabled(_, let message),
                 .stopping(_, let message): message
            }
        }
    }
}
