import Foundation
import GatewayTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// An IRC server played by the test on a real TCP socket: it accepts the gateway's connections
/// and the test reads every byte the gateway writes (to assert exact wire bytes) and writes the
/// server's lines itself (IRCv3 tags, CAP, SASL numerics that ngircd does not speak). Blocking:
/// use it from `onThread`.
final class ScriptedIRCPeer: @unchecked Sendable {
    let port: Int
    private let listener: LoopbackListener
    private var connection: Int32 = -1
    private var buffer: [UInt8] = []
    /// Every byte the gateway wrote on the current connection, in order.
    private(set) var received: [UInt8] = []

    init() throws {
        listener = try LoopbackListener()
        port = listener.port
    }

    deinit {
        if connection >= 0 { Glibc.close(connection) }
    }

    /// Waits (bounded, generously: a loaded machine runs the whole suite beside it) for the
    /// gateway to connect; the previous connection, if any, is closed.
    func accept(timeout: Duration = .seconds(30)) throws {
        if connection >= 0 { Glibc.close(connection) }
        connection = -1
        buffer = []
        received = []
        guard let accepted = listener.accept(timeout: timeout) else { throw IRCTestError("scripted peer: no connection") }
        connection = accepted
    }

    /// Writes raw server lines (each gets CRLF).
    func send(_ lines: String...) {
        for line in lines {
            let bytes = Array((line + "\r\n").utf8)
            _ = bytes.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
        }
    }

    /// Writes many raw server lines in one go.
    func send(contentsOf lines: [String]) {
        let bytes = Array(lines.map { $0 + "\r\n" }.joined().utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Closes the current connection (the server went away).
    func disconnect() {
        if connection >= 0 { Glibc.close(connection) }
        connection = -1
    }

    /// The next line the gateway wrote, without its CRLF, as raw bytes; nil on timeout or close.
    func readLineBytes(timeout: Duration = .seconds(10)) -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return line
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero, connection >= 0 else { return nil }
            var entry = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, pollMilliseconds(left)) == 1 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
            received += chunk[0..<n]
        }
    }

    func readLine(timeout: Duration = .seconds(10)) -> String? {
        readLineBytes(timeout: timeout).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Lines until one matches (the ones before it returned too); throws if none within `timeout`.
    @discardableResult
    func expect(timeout: Duration = .seconds(10), _ what: String, _ matches: (String) -> Bool) throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var seen: [String] = []
        while let line = readLine(timeout: deadline - ContinuousClock.now) {
            seen.append(line)
            if matches(line) { return seen }
        }
        throw IRCTestError("scripted peer: never saw \(what); saw \(seen)")
    }

    /// The next line must be `expected` (throws with what came instead).
    func expectNext(_ expected: String, timeout: Duration = .seconds(10)) throws {
        let line = readLine(timeout: timeout)
        guard line == expected else { throw IRCTestError("scripted peer: expected \(expected.debugDescription), got \(line.debugDescription)") }
    }

    /// Plays a plain RFC 1459 server up to the welcome: reads the gateway's registration
    /// (answering a `CAP LS` with no capabilities) and sends 001 for `nick`.
    func welcome(_ nick: String = "gatewayd") throws {
        try expect("USER") { $0.hasPrefix("USER ") }
        send(":irc.test 001 \(nick) :Welcome \(nick)!gw@127.0.0.1")
    }

    /// Plays an IRCv3 server up to the welcome: offers `capabilities` to `CAP LS 302`, acks what
    /// is asked for, and welcomes `nick` after `CAP END`. Returns what the gateway requested.
    @discardableResult
    func negotiate(_ capabilities: String, nick: String = "gatewayd") throws -> String {
        try expect("CAP LS 302") { $0 == "CAP LS :302" }
        try expect("USER") { $0.hasPrefix("USER ") }
        send(":irc.test CAP * LS :\(capabilities)")
        let request = try expect("CAP REQ") { $0.hasPrefix("CAP REQ :") }.last!
        let asked = String(request.dropFirst("CAP REQ :".count))
        send(":irc.test CAP * ACK :\(asked)")
        try expect("CAP END") { $0 == "CAP :END" }
        send(":irc.test 001 \(nick) :Welcome \(nick)!gw@127.0.0.1")
        return asked
    }

    /// Answers a WHOIS the gateway sent for `nick` with `user@host` (and `account` if given).
    func answerWhois(_ nick: String, user: String, host: String, account: String? = nil) throws {
        try expect("WHOIS \(nick)") { $0 == "WHOIS :\(nick)" }
        send(":irc.test 311 gatewayd \(nick) \(user) \(host) * :\(nick)")
        if let account { send(":irc.test 330 gatewayd \(nick) \(account) :is logged in as") }
        send(":irc.test 318 gatewayd \(nick) :End of WHOIS list")
    }
}
