import Varlink
#if canImport(Glibc)
import Glibc
#endif

/// Who may call the changing methods: root, the daemon's own uid, and members of the admin group
/// (primary or supplementary, as the system's group database says).
public struct ControlPermissions: Sendable {
    public let daemonUID: UInt32
    public let adminGroupID: UInt32?

    public init(daemonUID: UInt32 = getuid(), adminGroup: String?) {
        self.daemonUID = daemonUID
        adminGroupID = adminGroup.flatMap { name in getgrnam(name).map { $0.pointee.gr_gid } }
    }

    public init(daemonUID: UInt32, adminGroupID: UInt32?) {
        self.daemonUID = daemonUID
        self.adminGroupID = adminGroupID
    }

    public func allows(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUID { return true }
        guard let adminGroupID else { return false }
        if peer.gid == adminGroupID { return true }
        return Self.groups(of: peer.uid, primary: peer.gid).contains(adminGroupID)
    }

    static func groups(of uid: UInt32, primary: UInt32) -> [UInt32] {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return [primary] }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, primary, &groups, &count)
        }
        return Array(groups.prefix(Int(max(0, count))))
    }
}
