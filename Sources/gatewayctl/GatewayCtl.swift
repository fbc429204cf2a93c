import ArgumentParser
import GatewayCore

@main
struct GatewayCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayctl",
        abstract: "Control a running gatewayd over its control socket.",
        discussion: """
            Talks varlink to gatewayd on \(GatewayConstants.defaultControlSocket) (or --socket PATH, \
            or $\(GatewayConstants.Environment.socket)). Reading commands need access to the \
            socket; changing ones need root, the daemon's user or its admin group.

            Exit codes: 0 done, 1 failed, 3 daemon not running, 4 permission denied, 64 usage.
            """,
        version: GatewayConstants.version
    )
}
