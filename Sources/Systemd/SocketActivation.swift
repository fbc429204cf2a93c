import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// A listening socket passed by systemd (`LISTEN_FDS`), with its `FileDescriptorName=`.
public struct ActivatedSocket: Sendable, Equatable {
    public let fileDescriptor: Int32
    /// `FileDescriptorName=` of the socket unit, or the unit's name when none was set.
    public let name: String
}

/// Socket activation: the daemon adopts the sockets systemd listened on for it, so clients that
/// connect while it starts or restarts wait in the backlog instead of being refused.
public enum SocketActivation {
    /// The descriptors systemd passed to this process, each checked to be a listening Unix
    /// stream socket. Empty when nothing was passed: the caller binds its socket itself.
    ///
    /// The environment is left in place, so `sd_listen_fds` in the same process agrees; the
    /// descriptors are marked close-on-exec, so quick commands never inherit them.
    public static func listeners() throws -> [ActivatedSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let count = sd_listen_fds_with_names(0, &names)
        if count < 0 {
            throw SystemdError(.listenFdsFailed, returned: count, "sd_listen_fds_with_names")
        }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        var sockets: [ActivatedSocket] = []
        for index in 0..<Int(count) {
            let fd = SD_LISTEN_FDS_START + Int32(index)
            let name = names?[index].map { String(cString: $0) } ?? ""
            let isUnixStreamListener = sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0)
            if isUnixStreamListener < 0 {
                throw SystemdError(.unexpectedSocketType, returned: isUnixStreamListener,
                                   "passed fd \(fd) (\(name))")
            }
            if isUnixStreamListener == 0 {
                throw SystemdError(
                    .unexpectedSocketType,
                    "passed fd \(fd) (\(name)) is not a listening Unix stream socket; "
                        + "use ListenStream=/path in the .socket unit")
            }
            sockets.append(ActivatedSocket(fileDescriptor: fd, name: name))
        }
        return sockets
    }

    /// The passed socket called `name`, or the only one passed when it has no matching name
    /// (a `.socket` unit without `FileDescriptorName=` names it after the unit).
    public static func listener(named name: String) throws -> ActivatedSocket? {
        let sockets = try listeners()
        return sockets.first { $0.name == name } ?? (sockets.count == 1 ? sockets.first : nil)
    }
}
