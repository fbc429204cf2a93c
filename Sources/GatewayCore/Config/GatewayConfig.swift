/// The whole configuration as one immutable value: a reload builds a new one and swaps it in,
/// so no reader ever sees half of an old file and half of a new one.
package struct GatewayConfig: Sendable, Equatable {
    package var control = ControlConfig()
    package var drain = DrainConfig()
    package var busyInputMode: BusyInputMode = .interrupt
    package var agent = AgentConfig()
    package var exec = ExecConfig()
    /// By name, lowercased (commands are matched lowercased).
    package var quickCommands: [String: QuickCommand] = [:]
    package var access = AccessConfig()
    package var platforms = PlatformsConfig()
    package var sessions = SessionsConfig()
    /// The HTTP metrics listener (`metrics.listen`); a restart applies a change.
    package var metrics = MetricsConfig()
    package var stateDirectory = "/var/lib/gatewayd"

    /// Built-in defaults: the local platform and the echo agent, so a first run needs no file.
    package init() {}
}

package struct ControlConfig: Sendable, Equatable {
    package var socket = GatewayConstants.defaultControlSocket
    package var socketMode: UInt32 = 0o660
    package var adminGroup: String?
}

package struct DrainConfig: Sendable, Equatable {
    /// In-flight turns may finish this long before they are interrupted.
    package var timeout: Duration = .seconds(60)
}

/// What a message does when its session is already running a turn.
package enum BusyInputMode: String, Sendable, Equatable, CaseIterable {
    /// Interrupt the running turn; the new message runs next (default, as the reference).
    case interrupt
    /// Wait in FIFO order behind the running turn.
    case queue
}

package struct AgentConfig: Sendable, Equatable {
    package enum Backend: String, Sendable, Equatable, CaseIterable {
        case echo, command, openai
    }

    package var backend: Backend = .echo
    /// argv for the `command` backend.
    package var command: [String] = []
    package var turnTimeout: Duration = .seconds(600)
    /// `agent.openai`, read whatever the backend (so a file that switches backends is checked
    /// whole); used when `backend` is `openai`, which requires it.
    package var openai: OpenAISettings?
}

/// How many conversations stay in memory (`sessions:`). An evicted session's durable state (its
/// turn count) stays in the state store and comes back with its next message.
package struct SessionsConfig: Sendable, Equatable {
    package static let defaultIdleTimeout: Duration = .seconds(86_400)
    package static let defaultMax = 10_000

    /// An idle session (no turn, nothing queued) is forgotten after this long.
    package var idleTimeout: Duration = Self.defaultIdleTimeout
    /// Past this many sessions, the least recently active idle one is forgotten first.
    package var max: Int = Self.defaultMax

    package init(idleTimeout: Duration = Self.defaultIdleTimeout, max: Int = Self.defaultMax) {
        self.idleTimeout = idleTimeout
        self.max = max
    }
}

package struct ExecConfig: Sendable, Equatable {
    package var maxConcurrent = 8
    package var defaultTimeout: Duration = .seconds(30)
    package var maxOutput = 65536
}

/// One entry of `quick_commands`, as the reference gateway's config has it.
package struct QuickCommand: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case exec(command: String)
        case alias(target: String)
        /// Reported at load, and answered with the reference's exact wording when invoked.
        case invalid(reply: String)
    }

    package var name: String
    package var kind: Kind
    /// `args: pass`: the user's words reach the command as `"$1".."$N"`.
    package var passArguments = false
    package var timeout: Duration?
    package var description: String?

    package init(name: String, kind: Kind, passArguments: Bool = false, timeout: Duration? = nil,
                description: String? = nil) {
        self.name = name
        self.kind = kind
        self.passArguments = passArguments
        self.timeout = timeout
        self.description = description
    }
}

package struct AccessConfig: Sendable, Equatable {
    /// `platform:user`, `platform:*` or `*`. Local senders (the control socket's peers) are
    /// always allowed and are admins.
    package var allowedUsers: [String] = []
    /// May run exec quick commands and `/restart`.
    package var admins: [String] = []
}

package struct PlatformsConfig: Sendable, Equatable {
    package var localEnabled = true
    /// The network platforms' settings by platform name (`irc`, `webhook`), each read by its
    /// adapter's module (see `PlatformSettings`).
    package var network: [String: any PlatformSettings] = [:]

    package init() {}

    /// Every platform that serves: `local` when enabled, then the network ones by name.
    package var names: [String] { (localEnabled ? [GatewayConstants.localPlatform] : []) + network.keys.sorted() }

    package static func == (lhs: PlatformsConfig, rhs: PlatformsConfig) -> Bool {
        lhs.localEnabled == rhs.localEnabled && lhs.network.keys.sorted() == rhs.network.keys.sorted()
            && lhs.network.allSatisfy { name, settings in rhs.network[name].flatMap { settings.changedKeys(fromAny: $0) }?.isEmpty ?? false }
    }
}
