import Varlink
#if canImport(Glibc)
import Glibc
#endif

/// Tells whether a peer of the control socket is one of the processes gatewayd started (a quick
/// command, the `command` agent) or a descendant of one. Those run with the daemon's uid, which
/// would make them admins: see `ControlPermissions` for why they are refused anyway.
///
/// Two checks, because neither covers everything alone:
/// - (a) ancestry: the ppid chain from the peer's parent up to pid 1 passes through the daemon.
///   It holds while every process between them lives; a double fork whose middle process exits
///   leaves an orphan, reparented to pid 1 or a subreaper, that this cannot see.
/// - (b) the service's cgroup: under systemd every process the daemon starts stays in its
///   `.service` cgroup, orphans included (they cannot move out: `ProtectControlGroups=` keeps
///   cgroupfs read-only), while gatewayctl run by an operator is in a session scope or another
///   unit. A peer in the daemon's cgroup, or below it, is one of the service's processes.
///
/// The peer's pid comes from `SO_PEERCRED`; its pidfd (`SO_PEERPIDFD`) confirms afterwards that
/// what was read under /proc still belonged to that process, not to a later one reusing the pid.
package struct ProcessLineage: Sendable {
    /// The daemon's own pid: its descendants are refused.
    package let daemonPID: Int32
    /// The daemon's cgroup when it runs as a systemd service; nil otherwise (no check (b)).
    package let serviceCgroup: String?
    let parentOf: @Sendable (Int32) -> Int32?
    let cgroupOf: @Sendable (Int32) -> String?

    /// How far up a ppid chain is followed (a chain is far shorter; this only bounds a loop).
    static let maxAncestors = 4096

    package init(daemonPID: Int32, serviceCgroup: String?,
                parentOf: @escaping @Sendable (Int32) -> Int32? = ProcFS.parent(of:),
                cgroupOf: @escaping @Sendable (Int32) -> String? = ProcFS.cgroup(of:)) {
        self.daemonPID = daemonPID
        self.serviceCgroup = serviceCgroup
        self.parentOf = parentOf
        self.cgroupOf = cgroupOf
    }

    /// This process as the daemon: its pid, and its cgroup if it runs as a systemd service.
    package static func current() -> ProcessLineage {
        ProcessLineage(daemonPID: getpid(), serviceCgroup: serviceCgroup(
            procSelfCgroup: ProcFS.read("/proc/self/cgroup") ?? "",
            invocationID: getenv("INVOCATION_ID").map { String(cString: $0) },
            parentCgroup: ProcFS.cgroup(of: getppid())))
    }

    /// The cgroup v2 path of `/proc/self/cgroup` (its `0::` line) when it names a systemd
    /// service: the path ends in `.service`, or systemd set `INVOCATION_ID` for this process.
    /// Not when the process that started the daemon (the service manager) shares it: then the
    /// cgroup is not the service's own (a manager that could not create cgroups, a container
    /// without delegation), and everything in it would look like the daemon's children.
    package static func serviceCgroup(procSelfCgroup text: String, invocationID: String?, parentCgroup: String?) -> String? {
        guard let path = unifiedCgroup(text), path != parentCgroup else { return nil }
        let isService = path.hasSuffix(".service") || !(invocationID ?? "").isEmpty
        return isService ? path : nil
    }

    /// The path of the `0::` (cgroup v2) line.
    static func unifiedCgroup(_ text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }

    /// Why a peer whose process is gone is not trusted: its pid may be someone else's by now.
    package static func exited(_ pid: Int32) -> String { "process \(pid) has exited, so its lineage cannot be checked" }

    /// Why `peer` counts as a process gatewayd started, or nil when it does not. The daemon
    /// itself (a call from inside its own process) does not count.
    package func startedByDaemon(_ peer: PeerCredentials) -> String? {
        let pid = peer.pid
        guard pid > 0 else { return "its process is unknown" }
        if pid == daemonPID { return nil }
        if let serviceCgroup, let cgroup = cgroupOf(pid),
           cgroup == serviceCgroup || cgroup.hasPrefix(serviceCgroup.hasSuffix("/") ? serviceCgroup : serviceCgroup + "/") {
            return "it runs in gatewayd's own service cgroup (\(cgroup))"
        }
        let exited = Self.exited(pid)
        var parent = parentOf(pid)
        if parent == nil {
            // Alive but unreadable: /proc hides other users' processes (hidepid=, ProtectProc=).
            if let process = peer.process, process.isAlive {
                return "/proc/\(pid) cannot be read (hidepid= or ProtectProc= hides it), so its lineage cannot be checked"
            }
            return exited
        }
        var steps = 0
        while let ancestor = parent, ancestor > 0, steps < Self.maxAncestors {
            if ancestor == daemonPID { return "process \(pid) descends from gatewayd (pid \(daemonPID))" }
            if ancestor == 1 { break }
            parent = parentOf(ancestor)
            steps += 1
        }
        // What /proc said is about the process that connected only if it still exists now.
        if let process = peer.process, !process.isAlive { return exited }
        return nil
    }
}

/// The few /proc reads the lineage needs (no Foundation: this runs on the event loop).
package enum ProcFS {
    /// The ppid field of /proc/PID/stat; nil when the process is gone.
    package static func parent(of pid: Int32) -> Int32? {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // After "(comm)": state, ppid, ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// The cgroup v2 path of the process.
    package static func cgroup(of pid: Int32) -> String? {
        read("/proc/\(pid)/cgroup").flatMap(ProcessLineage.unifiedCgroup)
    }

    /// The process's command name (/proc/PID/comm, at most 15 bytes, which the process itself
    /// may set: attacker text); `?` when the process is gone or hidden.
    package static func comm(of pid: Int32) -> String {
        guard pid > 0, let text = read("/proc/\(pid)/comm") else { return "?" }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    /// A small file's contents.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
