import GatewayCore
import NIOCore
import Platforms

/// The one validation that a start, a reload and `--check-config` all run, so that what the
/// check passes the daemon starts with, and what the daemon refuses (exit 78) the check refuses
/// too: the file (every key, value and range, the platforms' sections read by their adapters'
/// own readers, the secret files they name), and what only the running system can tell
/// (`control.admin_group`).
struct StartupCheck {
    let outcome: ConfigLoader.LoadedConfig
    /// Built, not started (empty unless `build`): the daemon starts them.
    let adapters: [any PlatformAdapter]
    /// The file's warnings and what only the whole configuration shows.
    let warnings: [ConfigProblem]

    /// `explicit`: the path was named with `--config`, so a missing file is an error; only the
    /// default path may be absent (then the built-in defaults run). `eventLoops`: the adapters
    /// are built for a start, on those loops; `--check-config` and a reload build none.
    init(path: String, explicit: Bool, build eventLoops: (any EventLoopGroup)? = nil) throws(ConfigError) {
        let outcome: ConfigLoader.LoadedConfig
        do {
            outcome = try ConfigLoader.load(path: path, requireFile: explicit, platforms: PlatformCatalog.all)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: path, problems: [ConfigProblem(severity: .error, path: "", line: nil, message: "\(error)")])
        }
        var adapters: [any PlatformAdapter] = []
        if let eventLoops {
            for name in outcome.config.platforms.network.keys.sorted() {
                guard let settings = outcome.config.platforms.network[name] else { continue }
                do {
                    adapters.append(try PlatformCatalog.makeAdapter(settings, eventLoops: eventLoops))
                } catch {
                    throw ConfigError(file: path, problems: outcome.problems + [
                        ConfigProblem(severity: .error, path: "platforms.\(name)", line: nil, message: error.message)])
                }
            }
        }
        self.init(outcome, adapters: adapters)
    }

    /// A file's text, checked as the daemon's own would be (`gatewayctl reload --check --config
    /// PATH`: the client reads the file and sends its text).
    init(text: String, name: String) throws(ConfigError) {
        let outcome = ConfigLoader.load(text: text, platforms: PlatformCatalog.all)
        guard outcome.errors.isEmpty else { throw ConfigError(file: name, problems: outcome.problems) }
        self.init(outcome, adapters: [])
    }

    private init(_ outcome: ConfigLoader.LoadedConfig, adapters: [any PlatformAdapter]) {
        self.outcome = outcome
        self.adapters = adapters
        warnings = outcome.warnings + Self.deploymentWarnings(outcome.config)
    }

    /// Webhook senders among the admins: quick commands and the agent run as gatewayd's user and
    /// can read `secret_file`, so they can sign a delivery in any webhook admin's name. The
    /// control socket refuses them (`ControlPermissions`); the webhook cannot tell them apart.
    static func deploymentWarnings(_ config: GatewayConfig) -> [ConfigProblem] {
        guard config.platforms.network[GatewayConstants.webhookPlatform] != nil,
              config.access.admins.contains(where: { $0 == "*" || $0.hasPrefix("\(GatewayConstants.webhookPlatform):") })
        else { return [] }
        return [ConfigProblem(severity: .warning, path: "access.admins", line: nil, message: GatewayText.webhookAdminsReadableSecret)]
    }
}
