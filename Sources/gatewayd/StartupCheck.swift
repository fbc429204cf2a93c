import GatewayCore
import NIOCore
import Platforms

/// The one validation that a start and `--check-config` both run, so that what the check passes
/// the daemon starts with, and what the daemon refuses (exit 78) the check refuses too: the file
/// (every key, value and range), what only the running system can tell (`control.admin_group`),
/// the agent backend, and what the adapters read themselves (listen addresses, secret files).
struct StartupCheck {
    let outcome: ConfigLoader.LoadedConfig
    /// Built, not started (empty unless `build`): the daemon starts them.
    let adapters: [any PlatformAdapter]

    /// `explicit`: the path was named with `--config`, so a missing file is an error; only the
    /// default path may be absent (then the built-in defaults run). `eventLoops`: the adapters are
    /// made for a start, on those loops; `--check-config` and a reload only check what making them would refuse.
    /// `eventLoops`: what the built adapters run on (given with `build`).
    init(path: String, explicit: Bool, build eventLoops: (any EventLoopGroup)? = nil) throws(ConfigError) {
        let outcome: ConfigLoader.LoadedConfig
        do {
            outcome = try ConfigLoader.load(path: path, requireFile: explicit)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: path, problems: [ConfigProblem(severity: .error, path: "", line: nil, message: "\(error)")])
        }
        var problems: [ConfigProblem] = []
        if outcome.config.agent.backend == .openai {
            problems.append(ConfigProblem(severity: .error, path: "agent.backend", line: nil,
                                          message: "openai is not available in this build; use echo or command"))
        }
        var adapters: [any PlatformAdapter] = []
        do {
            if let eventLoops {
                adapters = try Daemon.makeAdapters(outcome.config, eventLoops: eventLoops)
            } else {
                try Daemon.checkAdapters(outcome.config)
            }
        } catch {
            problems.append(ConfigProblem(severity: .error, path: "", line: nil, message: "\(error)"))
        }
        guard problems.isEmpty else { throw ConfigError(file: path, problems: outcome.problems + problems) }
        self.outcome = outcome
        self.adapters = adapters
        warnings = outcome.warnings + Self.deploymentWarnings(outcome.config)
    }

    /// The file's warnings and what only the whole configuration shows.
    let warnings: [ConfigProblem]

    /// Webhook senders among the admins: quick commands and the agent run as gatewayd's user and
    /// can read `secret_file`, so they can sign a delivery in any webhook admin's name. The
    /// control socket refuses them (`ControlPermissions`); the webhook cannot tell them apart.
    static func deploymentWarnings(_ config: GatewayConfig) -> [ConfigProblem] {
        guard config.platforms.webhook != nil,
              config.access.admins.contains(where: { $0 == "*" || $0.hasPrefix("\(GatewayConstants.webhookPlatform):") })
        else { return [] }
        return [ConfigProblem(severity: .warning, path: "access.admins", line: nil, message: GatewayText.webhookAdminsReadableSecret)]
    }
}
