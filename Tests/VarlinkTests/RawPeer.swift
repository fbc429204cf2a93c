import CGatewayShims
import Foundation
import GatewayTestSupport
import JSON
import NIOConcurrencyHelpers
import Varlink
import VarlinkProtocol

/// A Unix-socket peer that does what a well-behaved client does not: writes without reading,
/// writes until the kernel refuses, holds a connection open. Blocking calls: use it on a
/// thread of its own.
final class RawPeer: Sendable {
    let fd: Int32

    init(path: String) throws {
        fd = gw_unix_connect(path)
        guard fd >= 0 else { throw TestFailure("cannot connect to \(path): errno \(errno)") }
    }

    deinit { close(fd) }

    static func call(_ method: String, _ parameters: [String: JSONValue] = [:], more: Bool = false, oneway: Bool = false) -> [UInt8] {
        VarlinkCoding.encodeCall(VarlinkCall(method: method, parameters: parameters, oneway: oneway, more: more)) + [0]
    }

    /// Writes all of `bytes`, blocking; false once the server has closed the connection.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Writes what the socket takes without blocking; the count written (0 when it is full).
    func writeWithoutBlocking(_ bytes: ArraySlice<UInt8>) -> Int {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        return max(n, 0)
    }

    /// Waits up to `timeout` for room to write: false when none came (the peer is not reading).
    func waitWritable(timeout: Duration) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        return poll(&entry, 1, pollMilliseconds(timeout)) == 1
    }

    /// Reads until end of file (discarding), up to `timeout`; true when the server closed.
    func waitForEndOfFile(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline - ContinuousClock.now
            guard poll(&entry, 1, pollMilliseconds(left)) == 1 else { continue }
            let n = read(fd, &buffer, buffer.count)
            if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) { return true }
        }
        return false
    }

    /// True when nothing (no reply, no end of file) is waiting to be read right now.
    var nothingToRead: Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 0
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, giving up after `timeout`: true when it finished in time. For waiting on
/// something that a defect would make wait for ever (the body is then left running).
func finishes(within timeout: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
    let outcome = FirstFinisher()
    return await withCheckedContinuation { continuation in
        outcome.waiter.withLockedValue { $0 = continuation }
        Task {
            await body()
            outcome.finish(true)
        }
        Task {
            try? await Task.sleep(for: timeout)
            outcome.finish(false)
        }
    }
}

/// The first of several tasks to finish answers.
private final class FirstFinisher: Sendable {
    let waiter = NIOLockedValueBox<CheckedContinuation<Bool, Never>?>(nil)
    func finish(_ value: Bool) { waiter.withLockedValue { $0.take() }?.resume(returning: value) }
}
