import GatewayCore
#if canImport(Glibc)
import Glibc
#endif

/// One gatewayd per state directory: an exclusive `flock` on `state_dir/gatewayd.lock`, held for
/// the life of the process (two daemons on one `state.db` would replay each other's queue and
/// answer from one bot twice).
///
/// A lock, not a PID file: the kernel drops it when the process ends, however it ends (`kill -9`,
/// a crash, the OOM killer), so a lock file left behind never blocks the next start and no pid
/// has to be judged stale or reused. The file is opened close-on-exec, so no quick command or
/// agent holds it on after gatewayd is gone; it carries the holder's PID only so that a second
/// instance can name it.
package final class StateDirectoryLock: Sendable {
    package static let fileName = "gatewayd.lock"
    /// The lock file.
    package let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Takes the lock of `directory` (created, as `StateStore.open` does, when missing) and writes
    /// this process's PID into it. Fails with `.held` when another process holds it, and with
    /// `.unavailable` when the file cannot be created or locked at all (a read-only or foreign
    /// directory): then nothing may open the store there either.
    package static func acquire(directory: String) -> Result<StateDirectoryLock, StateDirectoryLockError> {
        StateStore.makeDirectories(directory)
        let path = directory + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let code = errno
            return .failure(probeReadOnly(path) ?? StateDirectoryLockError(.unavailable, path: path, errno: code))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            defer { close(fd) }
            guard code == EWOULDBLOCK else { return .failure(StateDirectoryLockError(.unavailable, path: path, errno: code)) }
            return .failure(StateDirectoryLockError(.held, path: path, holder: readHolder(fd)))
        }
        let line = Array("\(getpid())\n".utf8)
        let written = ftruncate(fd, 0) == 0 ? line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } : -1
        guard written == line.count else {
            // A lock nobody can name is still a lock, but a full or read-only file system is
            // no place for the store either.
            let code = errno
            close(fd)
            return .failure(StateDirectoryLockError(.unavailable, path: path, errno: code))
        }
        return .success(StateDirectoryLock(path: path, descriptor: fd))
    }

    /// A lock file this process may read but not write (the directory read-only to it, as
    /// `ProtectSystem=strict` makes another unit's state directory): `flock` needs no write
    /// access, so a live holder is still seen (`.held`). Free, it is let go at once: a process
    /// that cannot write there must not keep the rightful one out. nil when it is not held.
    private static func probeReadOnly(_ path: String) -> StateDirectoryLockError? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) != 0 else { return nil }
        guard errno == EWOULDBLOCK else { return nil }
        return StateDirectoryLockError(.held, path: path, holder: readHolder(fd))
    }

    /// The PID the holder wrote. It writes it right after taking the lock, so a file still empty
    /// is read again for a little while (a second instance started at the same moment).
    private static func readHolder(_ fd: Int32) -> Int32? {
        for attempt in 0..<holderReadAttempts {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            if count > 0, let line = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").first,
               let pid = Int32(line), pid > 0 {
                return pid
            }
            if attempt + 1 < holderReadAttempts { usleep(holderReadPause) }
        }
        return nil
    }

    private static let holderReadAttempts = 20
    private static let holderReadPause: useconds_t = 5_000
}

/// Why the state directory's lock was not taken.
package struct StateDirectoryLockError: Error, Sendable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        /// Another process holds it: a second instance, which must not start.
        case held
        /// The lock file cannot be created, opened or locked (`errno` says why).
        case unavailable
    }

    package let code: Code
    /// The lock file.
    package let path: String
    /// `.held`: the PID the holder wrote in the file, nil when it could not be read.
    package let holder: Int32?
    /// `.unavailable`: the system's reason.
    package let errno: Int32

    init(_ code: Code, path: String, holder: Int32? = nil, errno: Int32 = 0) {
        self.code = code
        self.path = path
        self.holder = holder
        self.errno = errno
    }

    package var description: String {
        switch code {
        case .held: GatewayText.stateDirectoryInUse(lockFile: path, holder: holder)
        case .unavailable: GatewayText.stateDirectoryUnlockable(lockFile: path, reason: String(cString: strerror(errno)))
        }
    }
}
