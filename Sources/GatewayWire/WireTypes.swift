import JSON

/// The types of `io.gatewayd.Gateway` (io.gatewayd.Gateway.varlink in GatewayControl), one Swift
/// type each, with the IDL's field names in each `Key`. Enumerated strings (`state`, `kind`,
/// `health`) stay strings: a newer daemon may send values an older gatewayctl does not know.
package enum Wire {}

extension Wire {
    /// The gateway as a whole.
    package struct Status: WireObject {
        package static var wireType: String { "Status" }
        /// starting, running, reloading, draining or stopping.
        package var state: String
        /// While draining or stopping: stop, restart or admin.
        package var reason: String?
        package var pid: Int
        package var version: String
        package var uptimeUsec: Int
        package var turnsInFlight: Int
        package var execRunning: Int
        package var sessions: Int
        package var platforms: [String]
        package var platformHealth: [PlatformHealth]?
        /// Set when the durable queue is not in use: why.
        package var storeProblem: String?
        /// The applied file's revision (16 hex digits, as `gatewayd --check-config` prints it), or `defaults`
        /// (`Status.defaultsRevision`) when no file was read. Always sent by this version; nil
        /// from an older daemon (a gatewayctl upgraded before the daemon restarted still works).
        package var configRevision: String?
        /// When the running configuration was applied (start or reload), microseconds since the
        /// epoch; nil from an older daemon.
        package var configLoadedUsec: Int?
        /// Keys a reload read but could not apply (`control.socket`, `state_dir`): a restart applies them.
        package var restartNeeded: [String]?
        /// `agent.backend`: echo, command or openai (nil from an older daemon).
        package var agentBackend: String?
        /// A remote backend's endpoints, primary first, with their circuit breakers.
        package var agentEndpoints: [AgentEndpoint]?

        enum Key: String {
            case state, reason, pid, version, sessions, platforms
            case uptimeUsec = "uptime_usec", turnsInFlight = "turns_in_flight", execRunning = "exec_running"
            case platformHealth = "platform_health", storeProblem = "store_problem"
            case configRevision = "config_revision", configLoadedUsec = "config_loaded_usec", restartNeeded = "restart_needed"
            case agentBackend = "agent_backend", agentEndpoints = "agent_endpoints"
        }

        package init(state: String, reason: String? = nil, pid: Int, version: String, uptimeUsec: Int, turnsInFlight: Int,
                    execRunning: Int, sessions: Int, platforms: [String], platformHealth: [PlatformHealth]? = nil,
                    storeProblem: String? = nil, configRevision: String? = nil, configLoadedUsec: Int? = nil) {
            self.state = state
            self.reason = reason
            self.pid = pid
            self.version = version
            self.uptimeUsec = uptimeUsec
            self.turnsInFlight = turnsInFlight
            self.execRunning = execRunning
            self.sessions = sessions
            self.platforms = platforms
            self.platformHealth = platformHealth
            self.storeProblem = storeProblem
            self.configRevision = configRevision
            self.configLoadedUsec = configLoadedUsec
        }

        /// `config_revision` when the built-in defaults run (no file was read).
        package static let defaultsRevision = "defaults"

        package init(reading object: WireReader) throws(WireDecodingError) {
            state = try object.required(Key.state)
            reason = try object.optional(Key.reason)
            pid = try object.required(Key.pid)
            version = try object.required(Key.version)
            uptimeUsec = try object.required(Key.uptimeUsec)
            turnsInFlight = try object.required(Key.turnsInFlight)
            execRunning = try object.required(Key.execRunning)
            sessions = try object.required(Key.sessions)
            platforms = try object.required(Key.platforms)
            platformHealth = try object.optional(Key.platformHealth)
            storeProblem = try object.optional(Key.storeProblem)
            configRevision = try object.optional(Key.configRevision)
            configLoadedUsec = try object.optional(Key.configLoadedUsec)
            restartNeeded = try object.optional(Key.restartNeeded)
            agentBackend = try object.optional(Key.agentBackend)
            agentEndpoints = try object.optional(Key.agentEndpoints)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.state, state)
            object.set(Key.reason, reason)
            object.set(Key.pid, pid)
            object.set(Key.version, version)
            object.set(Key.uptimeUsec, uptimeUsec)
            object.set(Key.turnsInFlight, turnsInFlight)
            object.set(Key.execRunning, execRunning)
            object.set(Key.sessions, sessions)
            object.set(Key.platforms, platforms)
            object.set(Key.platformHealth, platformHealth)
            object.set(Key.storeProblem, storeProblem)
            object.set(Key.configRevision, configRevision)
            object.set(Key.configLoadedUsec, configLoadedUsec)
            object.set(Key.restartNeeded, restartNeeded)
            object.set(Key.agentBackend, agentBackend)
            object.set(Key.agentEndpoints, agentEndpoints)
        }
    }

    /// One endpoint of a remote agent backend (never its key).
    package struct AgentEndpoint: WireObject {
        package static var wireType: String { "AgentEndpoint" }
        package var baseURL: String
        package var model: String
        /// closed, open or half-open.
        package var breaker: String
        package var consecutiveFailures: Int
        package var lastError: String?
        package var lastErrorUsec: Int?

        enum Key: String {
            case model, breaker
            case baseURL = "base_url", consecutiveFailures = "consecutive_failures", lastError = "last_error"
            case lastErrorUsec = "last_error_usec"
        }

        package init(baseURL: String, model: String, breaker: String, consecutiveFailures: Int, lastError: String? = nil,
                     lastErrorUsec: Int? = nil) {
            self.baseURL = baseURL
            self.model = model
            self.breaker = breaker
            self.consecutiveFailures = consecutiveFailures
            self.lastError = lastError
            self.lastErrorUsec = lastErrorUsec
        }

        package init(reading object: WireReader) throws(WireDecodingError) {
            baseURL = try object.required(Key.baseURL)
            model = try object.required(Key.model)
            breaker = try object.required(Key.breaker)
            consecutiveFailures = try object.required(Key.consecutiveFailures)
            lastError = try object.optional(Key.lastError)
            lastErrorUsec = try object.optional(Key.lastErrorUsec)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.baseURL, baseURL)
            object.set(Key.model, model)
            object.set(Key.breaker, breaker)
            object.set(Key.consecutiveFailures, consecutiveFailures)
            object.set(Key.lastError, lastError)
            object.set(Key.lastErrorUsec, lastErrorUsec)
        }

        /// The breaker value that keeps turns away from the endpoint.
        package static let openBreaker = "open"
    }

    /// How a platform adapter is doing.
    package struct PlatformHealth: WireObject {
        package static var wireType: String { "PlatformHealth" }
        package var name: String
        /// up, connecting or down.
        package var health: String
        package var detail: String

        enum Key: String { case name, health, detail }

        package init(name: String, health: String, detail: String) {
            self.name = name
            self.health = health
            self.detail = detail
        }

        package init(reading object: WireReader) throws(WireDecodingError) {
            name = try object.required(Key.name)
            health = try object.required(Key.health)
            detail = try object.required(Key.detail)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.name, name)
            object.set(Key.health, health)
            object.set(Key.detail, detail)
        }
    }

    /// One conversation.
    package struct Session: WireObject {
        package static var wireType: String { "Session" }
        package var key: String
        package var turnRunning: Bool
        package var queued: Int
        package var turns: Int
        /// Tokens its turns sent and received, summed (nil from an older daemon).
        package var tokensIn: Int?
        package var tokensOut: Int?

        enum Key: String { case key, queued, turns, turnRunning = "turn_running", tokensIn = "tokens_in", tokensOut = "tokens_out" }

        package init(key: String, turnRunning: Bool, queued: Int, turns: Int, tokensIn: Int? = nil, tokensOut: Int? = nil) {
            self.key = key
            self.turnRunning = turnRunning
            self.queued = queued
            self.turns = turns
            self.tokensIn = tokensIn
            self.tokensOut = tokensOut
        }

        package init(reading object: WireReader) throws(WireDecodingError) {
            key = try object.required(Key.key)
            turnRunning = try object.required(Key.turnRunning)
            queued = try object.required(Key.queued)
            turns = try object.required(Key.turns)
            tokensIn = try object.optional(Key.tokensIn)
            tokensOut = try object.optional(Key.tokensOut)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.key, key)
            object.set(Key.turnRunning, turnRunning)
            object.set(Key.queued, queued)
            object.set(Key.turns, turns)
            object.set(Key.tokensIn, tokensIn)
            object.set(Key.tokensOut, tokensOut)
        }
    }

    /// One entry of `quick_commands`.
    package struct QuickCommand: WireObject {
        package static var wireType: String { "QuickCommand" }
        package var name: String
        /// exec, alias or invalid (`Kind`).
        package var type: String
        package var command: String?
        package var target: String?
        /// pass or ignore.
        package var args: String
        package var timeoutUsec: Int?
        package var description: String?

        package enum Kind {
            package static let exec = "exec"
            package static let alias = "alias"
            package static let invalid = "invalid"
        }

        enum Key: String { case name, type, command, target, args, description, timeoutUsec = "timeout_usec" }

        package init(name: String, type: String, command: String? = nil, target: String? = nil, args: String,
                    timeoutUsec: Int? = nil, description: String? = nil) {
            self.name = name
            self.type = type
            self.command = command
            self.target = target
            self.args = args
            self.timeoutUsec = timeoutUsec
            self.description = description
        }

        package init(reading object: WireReader) throws(WireDecodingError) {
            name = try object.required(Key.name)
            type = try object.required(Key.type)
            command = try object.optional(Key.command)
            target = try object.optional(Key.target)
            args = try object.required(Key.args)
            timeoutUsec = try object.optional(Key.timeoutUsec)
            description = try object.optional(Key.description)
        }

        package func write(to object: inout WireWriter) {
            object.set(Key.name, name)
            object.set(Key.type, type)
            object.set(Key.command, command)
            object.set(Key.target, target)
            object.set(Key.args, args)
            object.set(Key.timeoutUsec, timeoutUsec)
            object.set(Key.description, description)
        }
    }
}
