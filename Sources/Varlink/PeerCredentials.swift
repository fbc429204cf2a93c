import CGatewayShims
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// Who is calling, as the kernel recorded it when the peer connected: `SO_PEERCRED` (pid, uid,
/// primary gid), `SO_PEERGROUPS` (the supplementary groups the process really had, not what
/// the group database says of its user name) and `SO_PEERPIDFD` (the process itself).
package struct PeerCredentials: Sendable, Equatable {
    package let pid: Int32
    package let uid: UInt32
    package let gid: UInt32
    /// Supplementary groups; empty when the kernel could not say.
    package let groups: [UInt32]
    /// The peer process, immune to pid reuse; nil where the kernel has no `SO_PEERPIDFD`.
    package let process: PeerProcess?
    /// What was worked out about this peer once, for every later call on its connection.
    package let memo = PeerMemo()

    package init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = [], process: PeerProcess? = nil) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.process = process
    }

    /// No credentials could be read: no uid matches, so nothing privileged is allowed.
    package static var unknown: PeerCredentials { PeerCredentials(pid: -1, uid: .max, gid: .max) }

    package static func == (lhs: PeerCredentials, rhs: PeerCredentials) -> Bool {
        lhs.pid == rhs.pid && lhs.uid == rhs.uid && lhs.gid == rhs.gid && lhs.groups == rhs.groups
    }

    /// Reads the credentials of a connected Unix socket.
    static func read(socket fd: Int32) -> PeerCredentials {
        var pid: pid_t = -1, uid: uid_t = .max, gid: gid_t = .max
        guard gw_peer_credentials(fd, &pid, &uid, &gid) == 0 else { return .unknown }
        return PeerCredentials(pid: pid, uid: uid, gid: gid, groups: readGroups(socket: fd),
                               process: PeerProcess(socket: fd))
    }

    private static func readGroups(socket fd: Int32) -> [UInt32] {
        var capacity: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(capacity))
            var needed: Int32 = 0
            let count = gw_peer_groups(fd, &groups, capacity, &needed)
            if count >= 0 { return Array(groups.prefix(Int(count))) }
            guard errno == ERANGE, needed > capacity else { return [] }
            capacity = needed
        }
    }
}

/// Facts about a connection's peer that cannot change while it is connected, worked out on its
/// first call that needs them: the credentials are the connecting process's, fixed at connect.
package final class PeerMemo: Sendable {
    private let lineage = NIOLockedValueBox<String??>(nil)
    private let comm = NIOLockedValueBox<String?>(nil)

    package init() {}

    /// The peer's command name, `read()` on the first call that needs it (the audit record of a
    /// changing call); the same name on every later one, never a /proc read per call.
    package func comm(_ read: () -> String) -> String {
        if let known = comm.withLockedValue({ $0 }) { return known }
        let name = read()
        comm.withLockedValue { $0 = name }
        return name
    }

    /// `decide()` on the first call; its answer on every later one. (Whether the peer was
    /// started by the daemon: a process gains no ancestor, and one that loses its parent stays
    /// what it was when it connected, which is what the first answer keeps.)
    package func lineage(_ decide: () -> String?) -> String? {
        if let known = lineage.withLockedValue({ $0 }) { return known }
        let verdict = decide()
        lineage.withLockedValue { $0 = .some(verdict) }
        return verdict
    }
}

/// The process at the other end of a connection, held by a pidfd: while it can be asked, the
/// pid read from `SO_PEERCRED` still names that process and no later one.
package final class PeerProcess: Sendable {
    package let pidfd: Int32

    init?(socket fd: Int32) {
        let pidfd = gw_peer_pidfd(fd)
        guard pidfd >= 0 else { return nil }
        self.pidfd = pidfd
    }

    /// False once the process has ended (and been reaped): its pid may belong to another now.
    package var isAlive: Bool { gw_pidfd_alive(pidfd) == 1 }

    deinit { close(pidfd) }
}
