import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real Matrix homeserver for the Matrix tests: Synapse (PyPI `matrix-synapse`, in a venv that
/// `.ci/install-deps` makes under `cacheDirectory`), with SQLite, on a loopback port, in a
/// temporary directory; without the venv the tests skip with `unavailableReason`.
///
/// Its config is written here, not generated (`--generate-config` costs seconds): loopback only,
/// no federation, no key servers, open registration without verification (users are registered
/// over HTTP with `m.login.dummy`, each in a fraction of a second with `bcrypt_rounds: 4`; the
/// `registration_shared_secret` registers an admin, which can give one user tight limits:
/// `limitMessages`), and rate limits high enough for the tests.
///
/// One server is `shared` by the tests (a start takes a few seconds). It runs under a small shell
/// of its own (not a child of the test process) that ends it, and removes its directory, within
/// a second of the test process being gone: a shared server has no test to stop it.
public final class SynapseServer: @unchecked Sendable {
    public static let cacheDirectory = ProcessInfo.processInfo.environment["GATEWAYD_TEST_CACHE"] ?? "/var/cache/gatewayd-tests"
    /// The venv's interpreter, which has `synapse`.
    public static let python = cacheDirectory + "/synapse/bin/python"
    public static let serverName = "test.local"
    public static let readyTimeout: Duration = .seconds(60)

    /// Why the server cannot be started here (for `.enabled(if:)`), nil when it can.
    public static let unavailableReason: String? = {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return "Synapse is not installed in \(cacheDirectory)/synapse (.ci/install-deps installs it)"
        }
        // A look for the package, not an import (a Python start costs a second of CPU beside
        // the suite); a venv that cannot run it fails the start with Synapse's own log.
        let lib = cacheDirectory + "/synapse/lib"
        let packages = ((try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []).map { "\(lib)/\($0)/site-packages/synapse/app/homeserver.py" }
        guard packages.contains(where: { FileManager.default.fileExists(atPath: $0) }) else {
            return "the venv in \(cacheDirectory)/synapse has no synapse package (.ci/install-deps installs it)"
        }
        return nil
    }()

    public static var isAvailable: Bool { unavailableReason == nil }

    /// The server the tests share, started at the first use (nil, with `sharedError`, when it
    /// could not start).
    public static let shared: Result<SynapseServer, SynapseError> = {
        do { return .success(try SynapseServer(watched: true)) } catch { return .failure(error as? SynapseError ?? SynapseError("\(error)")) }
    }()

    /// `shared`, started on a thread of its own (the start blocks for seconds).
    public static func sharedServer() async throws -> SynapseServer {
        try await onThread { try shared.get() }
    }

    public let port: Int
    public let logPath: String
    public let directory: String
    private var process: TestChild?
    private let counter = NSLock()
    private var made = 0

    /// `http://127.0.0.1:PORT`, as `platforms.matrix.homeserver` takes it.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts one and returns once `GET /_matrix/client/versions` answers (bounded by `readyTimeout`).
    public init(watched: Bool = false) throws {
        if let reason = Self.unavailableReason { throw SynapseError(reason) }
        directory = makeTemporaryDirectory("gatewayd-synapse")
        logPath = directory + "/server.log"
        var seed = [UInt8](repeating: 0, count: 32)
        for index in seed.indices { seed[index] = UInt8.random(in: 0 ... 255) }
        let key = Data(seed).base64EncodedString().replacingOccurrences(of: "=", with: "")
        try "ed25519 a_test \(key)\n".write(toFile: directory + "/signing.key", atomically: true, encoding: .utf8)
        var lastError = "not started"
        for _ in 0..<3 {
            let port = freeLoopbackPort()
            try Self.config(directory: directory, port: port)
                .write(toFile: directory + "/homeserver.yaml", atomically: true, encoding: .utf8)
            let serve = "'\(Self.python)' -m synapse.app.homeserver --config-path '\(directory)/homeserver.yaml' >>'\(logPath)' 2>&1"
            if watched {
                // The watcher runs on its own (its shell exits at once and is reaped here), so
                // that nothing of this process ends it: a `TestChild` is killed when released.
                let watcher = "\(serve) & child=$!; while kill -0 \(getpid()) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; "
                    + "kill $child 2>/dev/null; wait $child; kill -0 \(getpid()) 2>/dev/null || rm -rf '\(directory)'"
                let shell = try TestChild(["/bin/sh", "-c", "( \(watcher) ) >/dev/null 2>&1 </dev/null &"], standardOutput: .null, standardError: .null)
                shell.wait()
                switch Self.waitUntilReady(process: nil, port: port) {
                case .success:
                    self.port = port
                    return
                case .failure(let error): lastError = error.description
                }
                continue
            }
            let process = try TestChild(["/bin/sh", "-c", "exec \(serve)"], standardOutput: .null, standardError: .null)
            switch Self.waitUntilReady(process: process, port: port) {
            case .success:
                self.port = port
                self.process = process
                return
            case .failure(let error):
                lastError = error.description
                kill(process.pid, SIGKILL)
                process.wait()
            }
        }
        let logged = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw SynapseError("Synapse did not start: \(lastError); its log ends: \(logged.suffix(1500))")
    }

    static let sharedSecret = "gatewayd-tests"

    static func config(directory: String, port: Int) -> String {
        let many = "{per_second: 1000, burst_count: 1000}"
        return """
            server_name: "\(serverName)"
            pid_file: \(directory)/homeserver.pid
            listeners:
              - {port: \(port), bind_addresses: ['127.0.0.1'], type: http, tls: false, x_forwarded: false,
                 resources: [{names: [client], compress: false}]}
            database: {name: sqlite3, args: {database: \(directory)/homeserver.db}}
            media_store_path: \(directory)/media
            signing_key_path: \(directory)/signing.key
            registration_shared_secret: "\(sharedSecret)"
            enable_registration: true
            enable_registration_without_verification: true
            bcrypt_rounds: 4
            report_stats: false
            macaroon_secret_key: "gatewayd-tests-macaroon"
            form_secret: "gatewayd-tests-form"
            trusted_key_servers: []
            suppress_key_server_warning: true
            presence: {enabled: false}
            user_directory: {enabled: false}
            stats: {enabled: false}
            push: {enabled: false}
            rc_message: \(many)
            rc_registration: \(many)
            rc_room_creation: \(many)
            rc_login: {address: \(many), account: \(many), failed_attempts: \(many)}
            rc_joins: {local: \(many), remote: \(many)}
            rc_joins_per_room: \(many)
            rc_invites: {per_room: \(many), per_user: \(many), per_issuer: \(many)}

            """
    }

    /// Polls `GET /_matrix/client/versions` while `process` (when there is one to watch) runs.
    private static func waitUntilReady(process: TestChild?, port: Int) -> Result<Void, SynapseError> {
        let deadline = ContinuousClock.now + readyTimeout
        while ContinuousClock.now < deadline {
            guard process?.isRunning ?? true else { return .failure(SynapseError("the server exited (port \(port) taken?)")) }
            if let response = try? HTTPExchange.request(port: port, method: "GET", path: "/_matrix/client/versions", timeout: .seconds(5)) {
                if response.status == 200 && response.bodyText.contains("\"versions\"") { return .success(()) }
            }
            usleep(50_000)
        }
        return .failure(SynapseError("GET /_matrix/client/versions did not answer within \(readyTimeout)"))
    }

    /// `user`'s messages limited to `perSecond` with bursts of `burst` (past them the
    /// homeserver answers `M_LIMIT_EXCEEDED` with `retry_after_ms`), set by an admin registered
    /// with the shared secret (`/_synapse/admin/v1/register`, its MAC an HMAC-SHA1).
    public func limitMessages(of user: String, perSecond: Int, burst: Int) throws {
        let admin = try adminToken()
        _ = try adminCall("POST", "/users/\(user.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? user)/override_ratelimit",
                          token: admin, ["messages_per_second": perSecond, "burst_count": burst])
    }

    private func adminToken() throws -> String {
        let name = uniqueName("admin"), password = "pw-\(name)"
        let nonce = try adminCall("GET", "/register", token: nil, nil)["nonce"] as? String ?? ""
        let message = Array("\(nonce)\0\(name)\0\(password)\0admin".utf8)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: Array(Self.sharedSecret.utf8)))
        let answer = try adminCall("POST", "/register", token: nil, [
            "nonce": nonce, "username": name, "password": password, "admin": true,
            "mac": mac.map { String(format: "%02x", $0) }.joined(),
        ])
        guard let token = answer["access_token"] as? String else { throw SynapseError("admin register: \(answer)") }
        return token
    }

    private func adminCall(_ method: String, _ path: String, token: String?, _ body: [String: Any]?) throws -> [String: Any] {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let response = try HTTPExchange.request(port: port, method: method, path: "/_synapse/admin/v1" + path, body: text,
                                                headers: token.map { ["Authorization: Bearer \($0)"] } ?? [], timeout: .seconds(30))
        guard response.status == 200, let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
            throw SynapseError("\(method) \(path): \(response.status) \(response.bodyText.prefix(300))")
        }
        return object
    }

    /// A name no other user of this server has (`bot3x12345`).
    public func uniqueName(_ prefix: String) -> String {
        counter.lock()
        defer { counter.unlock() }
        made += 1
        return "\(prefix)\(made)x\(getpid())"
    }

    /// SIGTERM by pid, then SIGKILL if it has not ended within 10 s (not for the shared one).
    public func stop() {
        guard let process else { return }
        kill(process.pid, SIGTERM)
        if !waitForExit(of: process.pid, timeout: .seconds(10)) { kill(process.pid, SIGKILL) }
        process.wait()
        self.process = nil
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}

public struct SynapseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
