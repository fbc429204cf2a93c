import GatewayWire
import Glibc

/// Where state and the control socket go when neither the command line nor the file says.
///
/// Under systemd the unit decides (`StateDirectory=`, the socket unit). A gatewayd started by
/// hand gets per-user places instead of the system's: as a normal user it could not write
/// /var/lib/gatewayd or /run/gatewayd at all, and as root it would take over the installed
/// service's state and socket.
package enum DefaultPaths {
    /// `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else `$XDG_STATE_HOME/gatewayd`, else
    /// `~/.local/state/gatewayd`.
    package static func stateDirectory() -> String {
        if let unit = ProcessEnvironment.value("STATE_DIRECTORY")?.split(separator: ":").first {
            return String(unit)
        }
        if let state = ProcessEnvironment.value("XDG_STATE_HOME") { return state + "/gatewayd" }
        return homeDirectory() + "/.local/state/gatewayd"
    }

    /// The control socket of a daemon whose config does not name one (`ControlSocket.daemonPath`,
    /// which gatewayctl looks at too).
    package static func daemonSocket() -> String? { ControlSocket.daemonPath() }

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
