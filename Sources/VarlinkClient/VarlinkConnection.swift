import CGatewayShims
import VarlinkProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Why a client call failed, sorted the way a command-line tool reports it.
package struct VarlinkClientError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Code: String, Sendable {
        /// No socket at the path, or nobody listening on it.
        case notRunning = "not_running"
        /// The socket exists but this user may not open it.
        case permissionDenied = "permission_denied"
        case timedOut = "timed_out"
        /// The server closed the connection or sent something that is not varlink.
        case protocolError = "protocol_error"
        case io
    }

    package let code: Code
    package let errno: Int32
    package let message: String

    package init(_ code: Code, errno: Int32 = 0, _ message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }

    package var description: String { message }
}

/// A blocking varlink client connection (for command-line tools and tests; no event loop, so a
/// short-lived tool starts fast).
package final class VarlinkConnection {
    package let path: String
    private let fd: Int32
    private var timeoutMilliseconds: Int32
    private var buffer: [UInt8] = []

    /// Connects to `path`; `timeout` bounds each wait for a reply (nil: wait for ever).
    package init(path: String, timeout: Duration? = .seconds(30)) throws(VarlinkClientError) {
        self.path = path
        timeoutMilliseconds = Self.milliseconds(timeout)
        let fd = gw_unix_connect(path)
        guard fd >= 0 else {
            let error = errno
            switch error {
            case ENOENT, ECONNREFUSED, ENOTDIR:
                throw VarlinkClientError(.notRunning, errno: error, "no server at \(path) (\(String(cString: strerror(error))))")
            case EACCES, EPERM:
                throw VarlinkClientError(.permissionDenied, errno: error, "permission denied opening \(path)")
            default:
                throw VarlinkClientError(.io, errno: error, "cannot connect to \(path): \(String(cString: strerror(error)))")
            }
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// How long each wait for a reply may take from now on (nil: for ever).
    package func setTimeout(_ timeout: Duration?) {
        timeoutMilliseconds = Self.milliseconds(timeout)
    }

    private static func milliseconds(_ timeout: Duration?) -> Int32 {
        timeout.map { Int32(clamping: $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? -1
    }

    /// One call, one reply (an error reply is returned, not thrown: its name is the answer).
    package func call(_ call: VarlinkCall) throws(VarlinkClientError) -> VarlinkReply {
        try send(call)
        return try receive()
    }

    /// A `more` call: `each` sees every reply until one without `continues`, or until it
    /// returns false.
    package func stream(_ call: VarlinkCall, each: (VarlinkReply) throws(VarlinkClientError) -> Bool) throws(VarlinkClientError) {
        var call = call
        call.more = true
        try send(call)
        while true {
            let reply = try receive()
            guard try each(reply), reply.continues else { return }
        }
    }

    package func send(_ call: VarlinkCall) throws(VarlinkClientError) {
        try sendRaw(VarlinkCoding.encodeCall(call) + [0])
    }

    /// Writes bytes as they are (tests use it for malformed input).
    package func sendRaw(_ bytes: [UInt8]) throws(VarlinkClientError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VarlinkClientError(.protocolError, errno: errno, "the server closed the connection: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// The next reply.
    package func receive() throws(VarlinkClientError) -> VarlinkReply {
        let frame = try receiveFrame()
        do {
            return try VarlinkCoding.decodeReply(frame)
        } catch {
            throw VarlinkClientError(.protocolError, "\(path): \(error)")
        }
    }

    /// The largest reply taken: a quick command's output (`exec.max_output`, 64 MiB at most)
    /// with every byte escaped fits; a server sending more without a NUL is not believed.
    package static let maxReply = 512 << 20

    /// The next NUL-terminated message, or an error when the server closed the connection, sent
    /// more than `maxReply`, or took longer than the timeout for the whole message (a server
    /// trickling a byte at a time does not hold the client past it).
    package func receiveFrame() throws(VarlinkClientError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = timeoutMilliseconds < 0 ? nil : ContinuousClock.now + .milliseconds(timeoutMilliseconds)
        var scanned = 0
        while true {
            if let end = buffer[scanned...].firstIndex(of: 0) {
                let frame = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                return frame
            }
            scanned = buffer.count
            if buffer.count > Self.maxReply {
                throw VarlinkClientError(.protocolError, "\(path) sent a reply larger than \(Self.maxReply >> 20) MiB")
            }
            var wait: Int32 = -1
            if let deadline {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { throw VarlinkClientError(.timedOut, "no reply from \(path) in time") }
                wait = Int32(clamping: Int64(Self.milliseconds(left)) + 1)  // rounded up: never a moment early
            }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, wait)
            if ready == 0 { throw VarlinkClientError(.timedOut, "no reply from \(path) in time") }
            if ready < 0 && errno == EINTR { continue }
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                throw VarlinkClientError(.protocolError, errno: n < 0 ? errno : 0, "\(path) closed the connection")
            }
            buffer += chunk[0..<n]
        }
    }
}
