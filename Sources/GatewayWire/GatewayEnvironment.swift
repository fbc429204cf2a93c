#if canImport(Glibc)
import Glibc
#endif

/// Facts that gatewayd and gatewayctl share besides the interface: the product's version, where
/// the control socket is, the environment variables both read and the journal's field names.
package enum GatewayProduct {
    package static let version = "0.1.0"
    /// Prefix of the journal fields made from log metadata (`session` -> `GATEWAY_SESSION`);
    /// `gatewayctl logs --session` matches on them.
    package static let journalFieldPrefix = "GATEWAY_"
}

/// Environment variables read by gatewayd and gatewayctl, and how they are read.
package enum GatewayEnvironment {
    /// `auto` (default), `journal` or `console`: where gatewayd's logs go.
    package static let logTarget = "GATEWAYD_LOG_TARGET"
    /// The control socket gatewayctl talks to when `--socket` is not given.
    package static let socket = "GATEWAYD_SOCKET"
    /// `1` enables test-only hooks (SIGUSR2 wedges the dispatcher, for watchdog tests).
    package static let testHooks = "GATEWAYD_TEST_HOOKS"

    /// The variable's value; nil when unset or empty.
    package static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The whole environment (the agent's HTTP client reads `https_proxy`, `no_proxy` from it).
    package static func all() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}

/// Where the control socket is when neither the command line nor the configuration says.
package enum ControlSocket {
    /// The installed service's (gatewayd.socket's `ListenStream=`).
    package static let systemPath = "/run/gatewayd/control"

    /// The socket of a daemon whose config does not name one: the system's for root,
    /// `$XDG_RUNTIME_DIR/gatewayd/control` for anyone else (a gatewayd started by hand could not
    /// create /run/gatewayd, and as root would take the service's); nil when that variable is unset.
    package static func daemonPath() -> String? {
        if geteuid() == 0 { return systemPath }
        return GatewayEnvironment.value("XDG_RUNTIME_DIR").map { $0 + "/gatewayd/control" }
    }

    /// The socket gatewayctl talks to without `--socket`: `$GATEWAYD_SOCKET`, else the system's
    /// when it exists, else the caller's own foreground daemon's when that exists, else the
    /// system's (so that the error names the usual place).
    package static func clientPath() -> String {
        if let socket = GatewayEnvironment.value(GatewayEnvironment.socket) { return socket }
        if access(systemPath, F_OK) != 0, let own = daemonPath(), access(own, F_OK) == 0 { return own }
        return systemPath
    }
}
