import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 request on a fresh loopback connection, written and read by hand (blocking
/// socket calls: run it `onThread`): what a test needs to see the bytes a real server sends,
/// framing included, with the time each piece arrived. `Connection: close`, so the response ends
/// at its length, its last chunk, or the server's close.
public enum HTTPExchange {
    /// A finished response.
    public struct Response: Sendable {
        public let status: Int
        /// The status line and headers, as sent (CRLFs kept).
        public let head: String
        /// The body as it came on the wire (chunk sizes included when chunked).
        public let wireBody: [UInt8]
        /// The body with any chunked framing removed.
        public let body: [UInt8]
        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// A header's value (the name matched without regard to case), nil when absent.
        public func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    /// Sends the request and reads the whole response; `onBody` sees each piece of the body (no
    /// chunk framing) as it arrives, with the time it was read. Throws past `timeout` in all.
    public static func request(port: Int, method: String, path: String, body: String? = nil,
                               headers: [String] = [], timeout: Duration,
                               onBody: ([UInt8], ContinuousClock.Instant) -> Void = { _, _ in }) throws -> Response {
        let deadline = ContinuousClock.now + timeout
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPExchangeError("socket: errno \(errno)") }
        defer { close(fd) }
        guard withIPv4Address(port: port, { connect(fd, $0, $1) }) == 0 else {
            throw HTTPExchangeError("connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        let bodyBytes = Array((body ?? "").utf8)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if body != nil { request += "Content-Type: application/json\r\nContent-Length: \(bodyBytes.count)\r\n" }
        for line in headers { request += line + "\r\n" }
        let bytes = Array((request + "\r\n").utf8) + bodyBytes
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HTTPExchangeError("send: \(String(cString: strerror(errno)))") }
            sent += n
        }

        var received: [UInt8] = []
        var head: String?
        var bodyStart = 0
        var decoder: ChunkedDecoder?
        var contentLength: Int?
        var decoded: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let head, isComplete(received.count - bodyStart, decoder: decoder, contentLength: contentLength) {
                return Response(status: status(of: head), head: head, wireBody: Array(received[bodyStart...]), body: decoded)
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw HTTPExchangeError("no complete response within \(timeout)") }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, pollMilliseconds(left)) == 1 else { continue }
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            let now = ContinuousClock.now
            guard n > 0 else {
                guard let head else { throw HTTPExchangeError("closed before a response head") }
                return Response(status: status(of: head), head: head, wireBody: Array(received[bodyStart...]), body: decoded)
            }
            let previous = received.count
            received += buffer[0..<n]
            var fresh: ArraySlice<UInt8> = []
            if head == nil {
                guard let end = find([13, 10, 13, 10], in: received) else { continue }
                let text = String(decoding: received[..<end], as: UTF8.self) + "\r\n\r\n"
                head = text
                bodyStart = end + 4
                let parsed = Response(status: 0, head: text, wireBody: [], body: [])
                if parsed.header("Transfer-Encoding")?.lowercased() == "chunked" { decoder = ChunkedDecoder() }
                contentLength = parsed.header("Content-Length").flatMap(Int.init)
                fresh = received[bodyStart...]
            } else {
                fresh = received[previous...]
            }
            let piece = decoder?.feed(fresh) ?? Array(fresh)
            if !piece.isEmpty {
                decoded += piece
                onBody(piece, now)
            }
        }
    }

    private static func isComplete(_ wireBodyCount: Int, decoder: ChunkedDecoder?, contentLength: Int?) -> Bool {
        if let decoder { return decoder.finished }
        if let contentLength { return wireBodyCount >= contentLength }
        return false
    }

    private static func status(of head: String) -> Int {
        let words = head.split(separator: " ", maxSplits: 2)
        return words.count > 1 ? Int(words[1]) ?? 0 : 0
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count + start else { return nil }
        for index in start...(haystack.count - needle.count) where haystack[index..<index + needle.count].elementsEqual(needle) {
            return index
        }
        return nil
    }
}

/// Removes HTTP/1.1 chunked framing from bytes fed in pieces of any size.
final class ChunkedDecoder {
    private var pending: [UInt8] = []
    /// Body bytes still to come in the current chunk; nil while a size line is expected.
    private var remaining: Int?
    private(set) var finished = false

    /// The body bytes in `bytes` (and in what was held back from earlier pieces).
    func feed(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        pending += bytes
        var out: [UInt8] = []
        var position = 0
        while !finished {
            if let left = remaining {
                if left > 0 {
                    let take = min(left, pending.count - position)
                    guard take > 0 else { break }
                    out += pending[position..<position + take]
                    position += take
                    remaining = left - take
                    continue
                }
                // The CRLF after a chunk's data.
                guard pending.count - position >= 2 else { break }
                position += 2
                remaining = nil
            } else {
                guard let end = HTTPExchange.find([13, 10], in: pending, from: position) else { break }
                let line = String(decoding: pending[position..<end], as: UTF8.self)
                let size = Int(line.split(separator: ";").first.map(String.init) ?? "", radix: 16) ?? 0
                position = end + 2
                if size == 0 { finished = true } else { remaining = size }
            }
        }
        pending.removeFirst(position)
        return out
    }
}

public struct HTTPExchangeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
