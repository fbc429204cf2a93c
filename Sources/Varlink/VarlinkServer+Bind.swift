import CGatewayShims
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The control socket file could not be created, or not given its mode.
package struct VarlinkSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno behind it.
    package let code: Int32
    package let message: String

    package init(code: Int32, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}

/// The process that listens on a Unix socket (see `VarlinkServer.listeningProcess(at:)`).
package struct ListeningProcess: Sendable, Equatable {
    /// From `SO_PEERCRED`: the process that called `listen()` (PID 1 or a user manager for a
    /// systemd socket unit); 0 when the kernel cannot say (its backlog is full, or it is in
    /// another PID namespace).
    package let pid: Int32
    /// Its command name (`/proc/PID/comm`), where this process may read it.
    package let name: String?
}

extension VarlinkServer {
    /// Who serves on the socket file at `path`, asked with a connection that is closed at once;
    /// nil when nobody answers there (no file, not a socket, a stale socket left by a process
    /// that died). A daemon checks it before it starts anything, so that a second instance on
    /// one control socket stops at once and names the first.
    package static func listeningProcess(at path: String) -> ListeningProcess? {
        var pid: pid_t = 0
        guard gw_unix_listener_pid(path, &pid) == 1 else { return nil }
        return ListeningProcess(pid: pid, name: pid > 0 ? commandName(of: pid) : nil)
    }

    private static func commandName(of pid: pid_t) -> String? {
        let fd = open("/proc/\(pid)/comm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let name = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").first.map(String.init)
        return name?.isEmpty == false ? name : nil
    }

    /// Binds a socket at `path` and serves on it.
    ///
    /// The file is created with `mode` from the start (bound on a thread with a umask of its own,
    /// see `gw_unix_listen`): there is no moment at which it is more open than asked, and no
    /// `chmod` by path that a symlink swapped in could redirect. A stale socket there (nobody
    /// answers on it) is replaced, a live one refused; any other file, a symlink included, is refused and left untouched.
    ///
    /// Then the file gets `groupID`, again without following a symlink. A group that cannot be
    /// applied (EPERM: the daemon's user is not a member) does not stop the server: the error is
    /// returned for the caller to report, and the socket serves with the daemon's own group.
    @discardableResult
    package func bind(path: String, mode: UInt32 = 0o660, groupID: UInt32? = nil) async throws -> VarlinkSocketError? {
        try await bind(path: path, mode: mode, groupID: groupID, afterListen: {})
    }

    /// `bind`, with a hook between creating the file and giving it its group (tests swap the file
    /// there to show that nothing follows a symlink).
    func bind(path: String, mode: UInt32, groupID: UInt32?, afterListen: () -> Void) async throws -> VarlinkSocketError? {
        var privateUmask: Int32 = 0
        let fd = gw_unix_listen(path, mode, configuration.backlog, &privateUmask)
        guard fd >= 0 else {
            let error = errno
            let reason = switch error {
            case EEXIST: "\(path) exists and is not a socket (a symlink or another file); not replacing it"
            case EADDRINUSE:
                "another process is serving on \(path) (\(Self.listeningProcess(at: path).map { $0.pid > 0 ? "PID \($0.pid): " : "" } ?? "")another gatewayd, or its socket unit); not taking it over"
            default: "cannot bind \(path): \(String(cString: strerror(error)))"
            }
            throw VarlinkSocketError(code: error, reason)
        }
        afterListen()
        let groupProblem: VarlinkSocketError?
        do {
            groupProblem = try applyModeAndGroup(path: path, mode: mode, groupID: groupID, privateUmask: privateUmask != 0)
        } catch {
            close(fd)
            throw error
        }
        // From here NIO owns the descriptor (and closes it if it fails).
        adopt(bound: try await bootstrap().withBoundSocket(fd).get(), path: path)
        return groupProblem
    }

    /// Gives the socket file this server bound a new group (the admin group of a reloaded
    /// configuration), without following a symlink. nil when done; the error otherwise (EPERM:
    /// the daemon's user is not a member). Does nothing for a socket passed by systemd, whose
    /// group is the socket unit's.
    package func changeSocketGroup(to groupID: UInt32) -> VarlinkSocketError? {
        guard let path = boundPath else { return nil }
        guard gw_socket_file_chown_group(path, groupID) != 0 else { return nil }
        let code = errno
        return VarlinkSocketError(code: code, "cannot give \(path) group \(groupID): \(String(cString: strerror(code)))")
    }

    private func applyModeAndGroup(path: String, mode: UInt32, groupID: UInt32?, privateUmask: Bool) throws -> VarlinkSocketError? {
        // Without a umask of its own the file got mode less the process umask: never more open
        // than asked, and widened to it here.
        if !privateUmask && gw_socket_file_chmod(path, mode) != 0 {
            let code = errno
            throw VarlinkSocketError(code: code, "cannot set the mode of \(path): \(String(cString: strerror(code)))")
        }
        guard let groupID, gw_socket_file_chown_group(path, groupID) != 0 else { return nil }
        let code = errno
        let error = VarlinkSocketError(code: code, "cannot give \(path) group \(groupID): \(String(cString: strerror(code)))")
        guard error.code == EPERM else { throw error }
        return error
    }
}
