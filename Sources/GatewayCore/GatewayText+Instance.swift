/// What gatewayd says when another instance holds its state directory or its control socket
/// (one instance per state directory: a second one exits 78 and names the first).
extension GatewayText {
    package static func stateDirectoryInUse(lockFile: String, holder: Int32?) -> String {
        let directory = String(lockFile[..<(lockFile.lastIndex(of: "/") ?? lockFile.startIndex)])
        let who = holder.map { "another gatewayd (PID \($0))" } ?? "another process (its PID could not be read from the file)"
        return "state directory \(directory) is in use by \(who), which holds \(lockFile); "
            + "not starting a second instance on it: stop that one, or give this one another state_dir (--state-dir)"
    }

    package static func stateDirectoryUnlockable(lockFile: String, reason: String) -> String {
        "cannot lock \(lockFile) (\(reason)), so another gatewayd might be using that directory: the state store is not opened; running without durable queue"
    }

    /// `holder` is the listener's PID from SO_PEERCRED (0: in another PID namespace), `name` its
    /// command name where /proc shows it.
    package static func controlSocketInUse(path: String, holder: Int32?, name: String?) -> String {
        let who: String
        switch holder {
        case .some(let pid) where pid > 0: who = "another process (PID \(pid)" + (name.map { ", \($0)" } ?? "") + ")"
        case .some: who = "another process (in another PID namespace)"
        case .none: who = "another process"
        }
        return "\(who) is serving on the control socket \(path); not starting a second instance on it: "
            + "stop that one, or give this one another control.socket (--socket)"
    }
}
