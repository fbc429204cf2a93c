// The metrics listener from outside: a plain HTTP GET over a fresh TCP connection (as
// Prometheus scrapes when the server closes each connection), and a free loopback port for it.
import CGatewayShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback port nobody listens on now (the kernel's pick, released).
func freeLoopbackPort() -> Int {
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `GET path` on 127.0.0.1:port, read to the server's close: the response's bytes (0 on a failure).
func httpGet(port: Int, path: String) -> Int {
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return 0 }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { return 0 }
    var buffer = [UInt8](repeating: 0, count: 65536)
    var total = 0
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        total += n
    }
    return total
}

/// Scrapes `/metrics` every `interval` on a thread of its own until `stop` is set; the time of
/// each scrape, in nanoseconds.
final class Scraper: @unchecked Sendable {
    private let lock = NSLock()
    private var running = false
    private var times: [UInt64] = []
    private var bytes = 0

    func start(port: Int, interval: useconds_t) {
        lock.withLock { running = true }
        Thread.detachNewThread {
            while self.lock.withLock({ self.running }) {
                let t = gw_monotonic_nsec()
                let size = httpGet(port: port, path: "/metrics")
                let elapsed = gw_monotonic_nsec() - t
                self.lock.withLock { self.times.append(elapsed); self.bytes = size }
                usleep(interval)
            }
        }
    }

    func stop() { lock.withLock { running = false } }

    var scrapes: (times: [UInt64], bytes: Int) { lock.withLock { (times, bytes) } }
}
