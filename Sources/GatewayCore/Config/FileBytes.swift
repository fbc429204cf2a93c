import Glibc

/// Reads a small file (the config, a secret) whole, for callers that must not pull Foundation
/// into the daemon. One loop, so every caller gets EINTR, short reads and a size bound right.
package enum FileBytes {
    package enum ReadError: Error, Sendable, Equatable, CustomStringConvertible {
        /// open(2) or read(2) failed with this errno (ENOENT: no such file).
        case system(Int32)
        /// Longer than the caller's limit; reading stopped there.
        case tooLarge

        package var description: String {
            switch self {
            case .system(let code): String(cString: strerror(code))
            case .tooLarge: "too large"
            }
        }
    }

    package static func read(_ path: String, limit: Int) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(errno) }
        defer { close(fd) }
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
