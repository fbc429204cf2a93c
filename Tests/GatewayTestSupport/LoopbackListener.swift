#if canImport(Glibc)
import Glibc
#endif

/// A `poll(2)` timeout: `duration` in whole milliseconds, rounded up (a wait never ends early),
/// clamped to what `poll` takes.
public func pollMilliseconds(_ duration: Duration) -> Int32 {
    let (seconds, attoseconds) = duration.components
    return Int32(clamping: max(0, seconds.multipliedReportingOverflow(by: 1000).partialValue + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
}

/// `body` with `host:port` (IPv4) as a socket address, for bind or connect.
public func withIPv4Address(_ host: String = "127.0.0.1", port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(host)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A listening TCP socket on 127.0.0.1:`port` (0: one the kernel picks) and its port.
public func listenOnLoopback(port: Int = 0, backlog: Int32) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    guard withIPv4Address(port: port, { bind(fd, $0, $1) }) == 0, listen(fd, backlog) == 0 else {
        let code = errno
        close(fd)
        throw IRCTestError("cannot listen on 127.0.0.1:\(port): \(String(cString: strerror(code)))")
    }
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A TCP listener on a loopback port that accepts only when asked and says nothing: a server
/// that never answers, a scripted peer's socket, or a port held so that nothing else can bind it.
public final class LoopbackListener: @unchecked Sendable {
    public let port: Int
    public let fd: Int32

    /// `port` nil: one the kernel picks.
    public init(port: Int? = nil) throws {
        (fd, self.port) = try listenOnLoopback(port: port ?? 0, backlog: 8)
    }

    deinit { close(fd) }

    /// The next connection, or nil if none came within `timeout` (the caller closes it).
    public func accept(timeout: Duration) -> Int32? {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, pollMilliseconds(timeout)) == 1 else { return nil }
        let connection = Glibc.accept(fd, nil, nil)
        return connection >= 0 ? connection : nil
    }
}
