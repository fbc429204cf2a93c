import GatewayCore
import Varlink
#if canImport(Glibc)
import Glibc
#endif

/// Who may call the changing methods (drain, resume, reload, restart, stop/reset, run, send):
/// root, the daemon's own uid (only where the kernel names the peer's process by pidfd), and
/// members of `control.admin_group`, with one exception that
/// wins over all three: a process that gatewayd started, or a descendant of one, never may,
/// whatever its uid (root included). Read methods stay open to anyone who can open the socket.
///
/// Why the exception: quick commands and the `command` agent run as the daemon's uid. Without
/// it, an agent talked into it by a prompt (or any quick command's output it reads) could run
/// every quick command, restart the gateway or send messages in its name: the daemon's rights
/// would be its children's. How a peer is recognised is `ProcessLineage`'s business.
///
/// Group membership is the peer's real supplementary groups as the kernel recorded them at
/// connect (`SO_PEERGROUPS`), not a group-database lookup of its user name: a process that
/// dropped a group, or a user added to one after logging in, is judged by what the process has.
/// The admin group's gid is resolved when the permissions are built, at start and on every
/// reload (not per call: a group lookup may go to NSS and block the event loop).
package struct ControlPermissions: Sendable {
    package let daemonUID: UInt32
    package let adminGroup: String?
    package let adminGroupID: UInt32?
    package let lineage: ProcessLineage

    /// The answer for one peer: allowed, or refused with the reason.
    package enum Decision: Sendable, Equatable {
        case allowed
        case denied(String)
    }

    /// Resolves `adminGroup` by name now (see `adminGroupProblem` when it does not exist).
    package init(daemonUID: UInt32 = getuid(), adminGroup: String?, lineage: ProcessLineage = .current()) {
        self.daemonUID = daemonUID
        self.adminGroup = adminGroup
        adminGroupID = adminGroup.flatMap(Self.groupID(named:))
        self.lineage = lineage
    }

    package init(daemonUID: UInt32, adminGroupID: UInt32?, lineage: ProcessLineage = .current()) {
        self.daemonUID = daemonUID
        adminGroup = adminGroupID.map { "gid \($0)" }
        self.adminGroupID = adminGroupID
        self.lineage = lineage
    }

    /// Set when `control.admin_group` names no group: nobody is admin through it.
    package var adminGroupProblem: String? {
        guard let adminGroup, adminGroupID == nil else { return nil }
        return GatewayText.adminGroupUnknown(adminGroup)
    }

    package func check(_ peer: PeerCredentials) -> Decision {
        // Worked out once per connection: reading the peer's ancestry under /proc cost about a
        // quarter of the daemon's CPU per RunQuickCommand when done on every call.
        if let why = peer.memo.lineage({ lineage.startedByDaemon(peer) }) { return .denied(GatewayText.startedByGateway(why)) }
        // The memo keeps the lineage, which cannot change, not the process, which can end: a
        // connection that outlives the process that opened it (its descriptor inherited or
        // passed on) speaks for nobody any more, as before the memo. One pidfd signal-0 call.
        if let process = peer.process, !process.isAlive {
            return .denied(GatewayText.startedByGateway(ProcessLineage.exited(peer.pid)))
        }
        if peer.uid == 0 { return .allowed }
        if peer.uid == daemonUID {
            // gatewayd's own user is who its children run as. Without the peer's pidfd (Linux
            // before 6.5) the lineage check reads /proc by pid, and a child that connected from a
            // process since exited could have that pid taken by an unrelated one: not trusted.
            return peer.process == nil ? .denied(GatewayText.daemonUserUnverifiable) : .allowed
        }
        if let adminGroupID, peer.gid == adminGroupID || peer.groups.contains(adminGroupID) { return .allowed }
        return .denied(GatewayText.notAnAdmin(uid: peer.uid, adminGroup: adminGroup))
    }

    package func allows(_ peer: PeerCredentials) -> Bool { check(peer) == .allowed }

    /// The gid of a group by name; nil when there is none.
    static func groupID(named name: String) -> UInt32? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        while true {
            let status = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
            if status == ERANGE && buffer.count < 1 << 22 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            return status == 0 ? result?.pointee.gr_gid : nil
        }
    }
}
