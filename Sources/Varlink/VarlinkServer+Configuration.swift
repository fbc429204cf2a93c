import NIOCore
#if canImport(Glibc)
import Glibc
#endif

extension VarlinkServer {
    /// The server's limits, in one place: what one connection, or one user, may take of the
    /// daemon's memory and connection slots. The defaults are gatewayd's.
    package struct Configuration: Sendable {
        /// A message longer than this closes the connection.
        package var maxMessageSize = 1 << 20
        /// Connections past this are closed at once.
        package var maxConnections = 256
        /// The last slots, which only root may take: however many connections other users hold,
        /// root can still connect to stop or fix the daemon.
        package var reservedForRoot = 8
        /// The slots before those, which only root and `daemonUID` may take.
        package var reservedForDaemonUser = 8
        /// One uid other than root holds at most this many connections.
        package var maxConnectionsPerUID = 32
        /// The daemon's own uid (may take the slots reserved for it).
        package var daemonUID: UInt32 = getuid()
        /// A client that sent part of a message and then nothing for this long is dropped.
        package var stallTimeout: TimeAmount = .seconds(5)
        /// A connection with no call in progress and nothing of the next one sent is closed after
        /// this long (a `more` stream in progress is not idleness).
        package var idleTimeout: TimeAmount = .seconds(60)
        /// Reading from a connection stops while this many bytes wait in it with a complete call
        /// among them (calls pipelined behind a running one), and goes on as they are taken.
        package var maxPendingInput = 64 << 10
        /// Replies written but not yet taken by the peer; a connection past this is closed (a
        /// peer that stops reading, a `Subscribe` that fell this far behind).
        package var maxUnwrittenOutput = 1 << 20
        /// The listening socket's backlog: connections waiting to be accepted.
        package var backlog: Int32 = 256
        /// How long `shutdown` waits, after its grace, for the calls it cancelled to end (a quick
        /// command's process group killed and reaped) before it returns without them.
        package var cancelledCallWait: Duration = .milliseconds(500)

        package init() {}
    }
}

/// Which connections may open: a limit per uid, and slots that only root, or root and the
/// daemon's uid, may take, so that no other user can lock the operator out by holding
/// connections open. Root is held to the total only.
struct ConnectionAdmission {
    enum Refusal: Equatable, CustomStringConvertible {
        case full(open: Int)
        case perUID(uid: UInt32, open: Int)

        var description: String {
            switch self {
            case .full(let open): "\(open) connections open, the rest are reserved for root and the daemon's user"
            case .perUID(let uid, let open): "uid \(uid) already holds \(open) connections"
            }
        }
    }

    let configuration: VarlinkServer.Configuration
    private(set) var total = 0
    private(set) var byUID: [UInt32: Int] = [:]

    init(_ configuration: VarlinkServer.Configuration) {
        self.configuration = configuration
    }

    /// Counts the connection in when it may open; otherwise says why not.
    mutating func admit(uid: UInt32) -> Refusal? {
        let limit: Int
        switch uid {
        case 0: limit = configuration.maxConnections
        case configuration.daemonUID: limit = configuration.maxConnections - configuration.reservedForRoot
        default: limit = configuration.maxConnections - configuration.reservedForRoot - configuration.reservedForDaemonUser
        }
        guard total < limit else { return .full(open: total) }
        let held = byUID[uid, default: 0]
        if uid != 0 && held >= configuration.maxConnectionsPerUID { return .perUID(uid: uid, open: held) }
        total += 1
        byUID[uid] = held + 1
        return nil
    }

    mutating func release(uid: UInt32) {
        total -= 1
        let held = byUID[uid, default: 1] - 1
        byUID[uid] = held > 0 ? held : nil
    }
}
