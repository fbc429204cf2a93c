import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the fake HTTP servers of the tests (`FakeOpenAIServer`, `FakeTelegramServer`) share: a
/// listener on a loopback port the kernel picks, HTTP/1.1 requests read whole (head and
/// Content-Length body, keep-alive), bytes written whole. Blocking sockets, a thread per connection.
public enum LoopbackHTTP {
    public struct Request: Sendable {
        public var path: String
        /// Lowercased names.
        public var headers: [String: String]
        public var body: [UInt8]
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// A listening socket on 127.0.0.1 and its port; `what` names the server in the error.
    public static func listen(_ what: String) throws -> (fd: Int32, port: Int) {
        do {
            return try listenOnLoopback(backlog: 128)
        } catch {
            throw IRCTestError("\(what): \(error)")
        }
    }

    /// The next request on the connection; nil when it ended. `buffer` keeps what was read past it.
    public static func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            headEnd = buffer.indices.dropLast(3).first { buffer[$0..<($0 + 4)].elementsEqual(separator) }
            if headEnd == nil, !fill(fd, &buffer) { return nil }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headEnd! + 4
        while buffer.count < bodyStart + length {
            guard fill(fd, &buffer) else { return nil }
        }
        let body = Array(buffer[bodyStart..<(bodyStart + length)])
        buffer.removeFirst(bodyStart + length)
        return Request(path: requestLine.count > 1 ? String(requestLine[1]) : "", headers: headers, body: body)
    }

    /// All of `bytes`, or false when the peer went away.
    public static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    private static func fill(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            buffer += chunk[..<n]
            return true
        }
    }
}
