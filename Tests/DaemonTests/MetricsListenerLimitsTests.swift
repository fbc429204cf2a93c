import Foundation
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The metrics listener against clients that do not behave: too many connections, ones that
/// say nothing, a request head without end.
@Suite("metrics listener limits", .timeLimit(.minutes(2)), .ownThread)
struct MetricsListenerLimitsTests {
    /// A TCP connection to 127.0.0.1:port; -1 when refused.
    static func connectTo(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard withIPv4Address(port: port, { connect(fd, $0, $1) }) == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// Reads until the peer closes (true) or `timeout` passes (false).
    static func closedByPeer(_ fd: Int32, within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, pollMilliseconds(deadline - ContinuousClock.now)) == 1 else { return false }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return true }
        }
        return false
    }

    @Test("past 64 connections a new one is closed at once; a silent one is closed after 10 s; an endless head is cut off")
    func hostileClients() throws {
        let gateway = try MetricsListenerTests.start("", prefix: "gatewayd-metrics-limits")
        defer { _ = gateway.daemon.stop(); try? FileManager.default.removeItem(atPath: gateway.directory) }
        let opened = ContinuousClock.now
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<64 {
            let fd = Self.connectTo(gateway.port)
            try #require(fd >= 0)
            held.append(fd)
        }
        // The accepts are in order: a 65th is closed as it is accepted, long before the 10 s.
        let extra = Self.connectTo(gateway.port)
        try #require(extra >= 0)
        #expect(Self.closedByPeer(extra, within: .seconds(30)))
        #expect(ContinuousClock.now - opened < .seconds(8), "closed by the limit, not by the timeout")
        close(extra)
        // The silent ones: closed by the listener 10 s after their accept.
        #expect(Self.closedByPeer(held[0], within: .seconds(30)))
        #expect(ContinuousClock.now - opened >= .seconds(9))
        for fd in held { close(fd) }
        held = []
        // An endless request head: cut off by the parser's limit (80 KiB), nothing kept.
        let endless = Self.connectTo(gateway.port)
        try #require(endless >= 0)
        defer { close(endless) }
        let head = Array("GET /metrics HTTP/1.1\r\nX-Filler: ".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 200 << 10)
        var sent = 0
        while sent < head.count {
            let n = head[sent...].withUnsafeBytes { send(endless, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        #expect(Self.closedByPeer(endless, within: .seconds(30)))
        #expect(try MetricsListenerTests.get(gateway.base + "/healthz").status == 200)
    }
}
