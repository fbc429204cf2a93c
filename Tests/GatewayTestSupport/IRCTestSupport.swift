import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real IRC server for the tests: Debian's ngircd in the foreground on a loopback port, with
/// a generated config, ended by its pid.
public final class IRCServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    /// Unique per server: the readiness probe checks it is talking to this one, not to another
    /// test's server that got the same port first.
    public let name = "irc\(UInt32.random(in: 0...UInt32.max)).gatewayd.test"
    private var process: TestChild?

    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/ngircd") }

    /// The TLS port, when made with `tls: true` (certificate for "localhost" in `certificate`).
    public let tlsPort: Int?
    public var certificate: String { directory + "/cert.pem" }

    /// Starts one from an async test: the start blocks (certificate, readiness probe) for up to
    /// seconds, on a thread of its own rather than one of the two that every async test shares.
    public static func started(port: Int? = nil, tls: Bool = false) async throws -> IRCServer {
        try await onThread { try IRCServer(port: port, tls: tls) }
    }

    /// `start()` from an async test (see `started`).
    public func restart() async throws {
        try await onThread { try self.start() }
    }

    public init(port: Int? = nil, tls: Bool = false) throws {
        self.port = port ?? freeLoopbackPort()
        directory = makeTemporaryDirectory("gatewayd-ircd")
        tlsPort = tls ? freeLoopbackPort() : nil
        var ssl = ""
        if let tlsPort {
            try Self.makeCertificate(in: directory, name: "cert")
            // Without a DHFile ngircd generates 2048-bit DH parameters before it listens: seconds
            // of CPU, past any sane readiness wait on a loaded machine. RFC 7919's named group
            // is a constant, written out at once.
            let dh = try run(["/usr/bin/openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
                              "-out", "\(directory)/dh.pem"])
            guard dh.status == 0 else { throw IRCTestError("openssl genpkey: \(dh.standardError)") }
            ssl = """
                [SSL]
                CertFile = \(directory)/cert.pem
                KeyFile = \(directory)/cert.key
                DHFile = \(directory)/dh.pem
                Ports = \(tlsPort)
                """
        }
        try """
            [Global]
            Name = \(name)
            Info = gatewayd test server
            Listen = 127.0.0.1
            Ports = \(self.port)
            MotdPhrase = "test"
            AdminInfo1 = gatewayd tests
            AdminInfo2 = here
            AdminEMail = root@localhost
            [Limits]
            MaxConnectionsIP = 0
            [Options]
            PAM = no
            Ident = no
            DNS = no
            \(ssl)
            """.write(toFile: directory + "/ngircd.conf", atomically: true, encoding: .utf8)
        try start()
    }

    /// A self-signed certificate for "localhost" (its own CA): `name`.pem and `name`.key.
    public static func makeCertificate(in directory: String, name: String) throws {
        let output = try run(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                              "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                              "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem"])
        guard output.status == 0 else { throw IRCTestError("openssl: \(output.standardError)") }
    }

    public func start() throws {
        let process = try TestChild(["/usr/sbin/ngircd", "-n", "-f", directory + "/ngircd.conf"],
                                    standardOutput: .null, standardError: .null)
        self.process = process
        // ngircd has no readiness notification: wait (bounded) until the port accepts, and
        // check the server there is this one.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let probe = try? LineClient(port: port) {
                defer { probe.close() }
                probe.send("NICK probe\(UInt16.random(in: 0...9999))")
                probe.send("USER probe 0 * :probe")
                guard probe.waitFor(timeout: .seconds(30), { $0.contains(" 001 ") })?.hasPrefix(":\(name) ") == true else {
                    throw IRCTestError("port \(port) is another server's")
                }
                // ngircd goes on without a port it could not bind: the TLS one must be checked too.
                if let tlsPort {
                    guard let tls = try? LineClient(port: tlsPort) else { throw IRCTestError("ngircd does not listen on its TLS port \(tlsPort)") }
                    tls.close()
                }
                return
            }
            guard process.isRunning else { throw IRCTestError("ngircd exited (port \(port) taken?)") }
            usleep(10_000)
        }
        throw IRCTestError("ngircd did not listen on \(port)")
    }

    public func stop() {
        guard let process else { return }
        // SIGKILL: a server that drops everyone at once is what the reconnect test wants anyway.
        kill(process.pid, SIGKILL)
        process.wait()
        self.process = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

public struct IRCTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking line-based TCP client: a person on IRC, typed by the test. Used from `onThread`.
public final class LineClient: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// Who was in the channel when this client joined (the NAMES reply).
    public private(set) var namesAtJoin: Set<String> = []

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let rc = withIPv4Address(port: port) { connect(fd, $0, $1) }
        guard rc == 0 else {
            let code = errno
            Glibc.close(fd)
            throw IRCTestError("connect: \(String(cString: strerror(code)))")
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ line: String) {
        let bytes = Array((line + "\r\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// The next line, nil on timeout or close (answers PING on the way).
    public func readLine(timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                let text = String(decoding: line, as: UTF8.self)
                if text.hasPrefix("PING ") { send("PONG " + text.dropFirst(5)); continue }
                return text
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return nil }
            if n > 0 { buffer += chunk[0..<n] }
        }
        return nil
    }

    /// Lines until one matches; nil if none does within `timeout`.
    public func waitFor(timeout: Duration = .seconds(10), _ matches: (String) -> Bool) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let line = readLine(timeout: deadline - ContinuousClock.now) else { continue }
            if matches(line) { return line }
        }
        return nil
    }

    /// Registers as `nick` and joins `channel` (returns once the server says the join is done).
    public func register(_ nick: String, user: String? = nil, joining channel: String?) throws {
        send("NICK \(nick)")
        send("USER \(user ?? nick) 0 * :\(nick)")
        guard waitFor({ $0.contains(" 001 ") }) != nil else { throw IRCTestError("\(nick) not registered") }
        if let channel {
            send("JOIN \(channel)")
            guard waitFor({ line in
                if line.contains(" 353 "), let names = line.split(separator: ":").last {
                    namesAtJoin.formUnion(names.split(separator: " ").map { String($0.drop { "@+%&~".contains($0) }) })
                }
                return line.contains(" 366 ")
            }) != nil else { throw IRCTestError("\(nick) did not join \(channel)") }
        }
    }

    public func close() { Glibc.close(fd) }

    /// A client registered as `nick` (USER `user`, default the nick), in `channel` if given; the
    /// blocking part on a thread of its own.
    public static func registered(port: Int, _ nick: String, user: String? = nil, joining channel: String? = nil) async throws -> LineClient {
        try await onThread {
            let client = try LineClient(port: port)
            try client.register(nick, user: user, joining: channel)
            return client
        }
    }
}
