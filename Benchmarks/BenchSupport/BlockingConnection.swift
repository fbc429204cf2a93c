import GatewayTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One blocking TCP connection to a loopback port, without Nagle's delay (a request's last
/// segment must not wait for an ACK): what a benchmark's direct client talks to a fake through.
/// `pending` holds what was read past the last answer.
open class BlockingConnection {
    public let fd: Int32
    public var pending: [UInt8] = []

    public init(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(withIPv4Address(port: port) { connect(fd, $0, $1) } == 0, "cannot connect to 127.0.0.1:\(port)")
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Writes all of `bytes`.
    public func send(_ bytes: [UInt8]) {
        precondition(bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } == bytes.count)
    }

    /// Appends what the next read brings to `pending`.
    public func readMore() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = read(fd, &chunk, chunk.count)
        precondition(n > 0, "the peer closed the connection")
        pending += chunk[..<n]
    }

    /// Where `needle` starts in `pending`.
    public func find(_ needle: [UInt8]) -> Int? {
        guard pending.count >= needle.count else { return nil }
        for index in 0...(pending.count - needle.count) where pending[index] == needle[0] {
            if Array(pending[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}
