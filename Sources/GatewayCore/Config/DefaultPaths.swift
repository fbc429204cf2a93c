import Glibc

/// Where state and the control socket go when neither the command line nor the file says.
///
/// Under systemd the unit decides (`StateDirectory=`, the socket unit). A gatewayd started by
/// hand gets per-user places instead of the system's: as a normal user it could not write
/// /var/lib/gatewayd or /run/gatewayd at all, and as root it would take over the installed
/// service's state and socket.
public enum DefaultPaths {
    /// `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else `$XDG_STATE_HOME/gatewayd`, else
    /// `~/.local/state/gatewayd`.
    public static func stateDirectory() -> String {
        if let unit = ProcessEnvironment.value("STATE_DIRECTORY")?.split(separator: ":").first {
            return String(unit)
        }
        if let state = ProcessEnvironment.value("XDG_STATE_HOME") { return state + "/gatewayd" }
        return homeDirectory() + "/.local/state/gatewayd"
    }

    /// The control socket of a daemon whose config does not name one: the system's for root,
    /// `$XDG_RUNTIME_DIR/gatewayd/control` for anyone else; nil when that variable is unset.
    public static func daemonSocket() -> String? {
        if geteuid() == 0 { return GatewayConstants.defaultControlSocket }
        return ProcessEnvironment.value("XDG_RUNTIME_DIR").map { $0 + "/gatewayd/control" }
    }

    /// The socket gatewayctl talks to without `--socket`: `$GATEWAYD_SOCKET`, else the system's
    /// when it exists, else the caller's own foreground daemon's when that exists, else the
    /// system's (so that the error names the usual place).
    public static func clientSocket() -> String {
        if let socket = ProcessEnvironment.value(GatewayConstants.Environment.socket) { return socket }
        let system = GatewayConstants.defaultControlSocket
        if access(system, F_OK) != 0, let own = daemonSocket(), access(own, F_OK) == 0 { return own }
        return system
    }

    private static func homeDirectory() -> String {
        if let home = ProcessEnvironment.value("HOME") { return home }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(geteuid(), &entry, &buffer, buffer.count, &result) == 0, let result, let directory = result.pointee.pw_dir {
            return String(cString: directory)
        }
        return "/tmp/gatewayd-\(geteuid())"
    }
}
