/// The whole configuration as one immutable value: a reload builds a new one and swaps it in,
/// so no reader ever sees half of an old file and half of a new one.
public struct GatewayConfig: Sendable, Equatable {
    public var control = ControlConfig()
    public var drain = DrainConfig()
    public var busyInputMode: BusyInputMode = .interrupt
    public var agent = AgentConfig()
    public var exec = ExecConfig()
    /// By name, lowercased (commands are matched lowercased).
    public var quickCommands: [String: QuickCommand] = [:]
    public var access = AccessConfig()
    public var platforms = PlatformsConfig()
    public var stateDirectory = "/var/lib/gatewayd"

    /// Built-in defaults: the local platform and the echo agent, so a first run needs no file.
    public init() {}
}

public struct ControlConfig: Sendable, Equatable {
    public var socket = GatewayConstants.defaultControlSocket
    public var socketMode: UInt32 = 0o660
    public var adminGroup: String?
}

public struct DrainConfig: Sendable, Equatable {
    /// In-flight turns may finish this long before they are interrupted.
    public var timeout: Duration = .seconds(60)
}

/// What a message does when its session is already running a turn.
public enum BusyInputMode: String, Sendable, Equatable, CaseIterable {
    /// Interrupt the running turn; the new message runs next (default, as the reference).
    case interrupt
    /// Wait in FIFO order behind the running turn.
    case queue
}

public struct AgentConfig: Sendable, Equatable {
    public enum Backend: String, Sendable, Equatable, CaseIterable {
        case echo, command, openai
    }

    public var backend: Backend = .echo
    /// argv for the `command` backend.
    public var command: [String] = []
    public var turnTimeout: Duration = .seconds(600)
}

public struct ExecConfig: Sendable, Equatable {
    public var maxConcurrent = 8
    public var defaultTimeout: Duration = .seconds(30)
    public var maxOutput = 65536
}

/// One entry of `quick_commands`, as the reference gateway's config has it.
public struct QuickCommand: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case exec(command: String)
        case alias(target: String)
        /// Reported at load, and answered with the reference's exact wording when invoked.
        case invalid(reply: String)
    }

    public var name: String
    public var kind: Kind
    /// `args: pass`: the user's words reach the command as `"$1".."$N"`.
    public var passArguments = false
    public var timeout: Duration?
    public var description: String?

    public init(name: String, kind: Kind, passArguments: Bool = false, timeout: Duration? = nil,
                description: String? = nil) {
        self.name = name
        self.kind = kind
        self.passArguments = passArguments
        self.timeout = timeout
        self.description = description
    }
}

public struct AccessConfig: Sendable, Equatable {
    /// `platform:user`, `platform:*` or `*`. Local senders (the control socket's peers) are
    /// always allowed and are admins.
    public var allowedUsers: [String] = []
    /// May run exec quick commands and `/restart`.
    public var admins: [String] = []
}

public struct PlatformsConfig: Sendable, Equatable {
    public var localEnabled = true
    /// Settings of the network platforms, kept as text until their adapters read them.
    public var irc: [String: String]?
    public var webhook: [String: String]?
}
