import Foundation
import GatewayTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client on 127.0.0.1 that speaks raw bytes: for peers that curl cannot play
/// (one that dribbles a head, one that keeps sending a body the server refused, thousands idle).
/// Call it from a thread of its own (`onThread`).
final class RawTCPClient: @unchecked Sendable {
    let fd: Int32

    /// Connected, with `timeout` on every send and receive (a test fails rather than hangs).
    /// `source`: a loopback address of its own (127.0.0.2), so that thousands of clients take
    /// no ephemeral port from 127.0.0.1, where other tests bind the "free" ports they picked.
    init(port: Int, source: String? = nil, timeout: Duration = .seconds(30)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawTCPError("socket", errno) }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var noPort: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_IP), 24 /* IP_BIND_ADDRESS_NO_PORT */, &noPort, socklen_t(MemoryLayout<Int32>.size))
            guard withIPv4Address(source, port: 0, { bind(fd, $0, $1) }) == 0 else {
                let saved = errno
                Glibc.close(fd)
                throw RawTCPError("bind \(source)", saved)
            }
        }
        guard withIPv4Address("127.0.0.1", port: port, { connect(fd, $0, $1) }) == 0 || Self.finishConnect(fd, timeout: timeout) else {
            let saved = errno
            Glibc.close(fd)
            throw RawTCPError("connect", saved)
        }
    }

    /// A connect cut short by a signal (EINTR; the test process gets SIGCHLD from the daemons it
    /// runs) or by the send timeout (EINPROGRESS) goes on in the kernel: waits for it to finish.
    /// False with errno set when it did not.
    private static func finishConnect(_ fd: Int32, timeout: Duration) -> Bool {
        guard errno == EINTR || errno == EINPROGRESS else { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&entry, 1, pollMilliseconds(timeout)) == 1 else {
            errno = ETIMEDOUT
            return false
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        errno = error
        return error == 0
    }

    deinit { Glibc.close(fd) }


    /// Sends all of `bytes`; the errno when the peer refused them (EPIPE, ECONNRESET), else nil.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return nil
    }

    func send(_ text: String) -> Int32? { send(Array(text.utf8)) }

    /// Whatever arrives until the peer closes or `wanted` bytes came; nil on a receive timeout.
    func receive(upTo wanted: Int = 1 << 16) -> [UInt8]? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while received.count < wanted {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return (errno == EAGAIN || errno == EWOULDBLOCK) && received.isEmpty ? nil : received }
            if n == 0 { break }
            received += chunk[0..<n]
        }
        return received
    }

    /// One HTTP response whose head says its length (all the webhook sends), as text.
    func receiveResponse() -> String? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<end.upperBound].utf8.count >= length { return text }
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return received.isEmpty ? nil : String(decoding: received, as: UTF8.self) }
            received += chunk[0..<n]
        }
    }

    /// Whether the peer has closed: end of file (or a reset) within `timeout`.
    func closedByPeer(within timeout: Duration) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = pollMilliseconds(timeout)
        guard poll(&entry, 1, milliseconds) == 1 else { return false }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK))
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }
}

struct RawTCPError: Error, CustomStringConvertible {
    let description: String
    init(_ what: String, _ code: Int32) { description = "\(what): \(String(cString: strerror(code)))" }
}
