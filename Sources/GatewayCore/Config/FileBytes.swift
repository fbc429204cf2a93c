import Glibc

/// Reads a small file (the config, a secret) whole, for callers that must not pull Foundation
/// into the daemon. One loop, so every caller gets EINTR, short reads and a size bound right.
package enum FileBytes {
    package enum ReadError: Error, Sendable, Equatable, CustomStringConvertible {
        /// open(2) or read(2) failed with this errno (ENOENT: no such file).
        case system(Int32)
        /// Longer than the caller's limit; reading stopped there.
        case tooLarge
        /// A FIFO, a device or a socket where the caller wants a file (`regularFileOnly`).
        case notRegularFile

        package var description: String {
            switch self {
            case .system(let code): String(cString: strerror(code))
            case .tooLarge: "too large"
            case .notRegularFile: "not a regular file"
            }
        }
    }

    /// `regularFileOnly`: a secret or a certificate named by a file's text, which a client may
    /// send (`reload --check`): opened without blocking and refused unless it is a regular file,
    /// since open(2) of a FIFO without a writer, or a read of a terminal, waits for good, and the
    /// reader runs on the daemon's actor (every later control call and signal would wait too).
    package static func read(_ path: String, limit: Int, regularFileOnly: Bool = false) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (regularFileOnly ? O_NONBLOCK : 0))
        guard fd >= 0 else { throw .system(errno) }
        defer { close(fd) }
        if regularFileOnly {
            var status = stat()
            guard fstat(fd, &status) == 0 else { throw .system(errno) }
            guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile }
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(errno)
            }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
            if bytes.count > limit { throw .tooLarge }
        }
    }
}
