import CGatewayShims
import CGatewayTestShims
import Foundation
import GatewayTestSupport

/// The built gatewayd started by hand (no systemd), as an operator runs it from a terminal:
/// returned once it has sent READY=1 to a notify socket the test binds (the event to wait for:
/// the control socket listens by then).
struct ForegroundDaemon {
    let process: TestChild
    let directory: String

    struct NotReady: Error, CustomStringConvertible {
        let description: String
    }

    /// `argv` starts with the gatewayd binary (or a wrapper such as setpriv in front of it).
    init(_ argv: [String], environment: [String: String], directory: String) throws {
        self.directory = directory
        let notify = directory + "/notify.sock"
        let fd = gw_unix_bind(notify, 0)
        guard fd >= 0 else { throw NotReady(description: "bind \(notify): errno \(errno)") }
        defer { close(fd); unlink(notify) }
        chmod(notify, 0o777)  // the daemon may run as another user
        process = try TestChild(argv, environment: environment.merging(["NOTIFY_SOCKET": notify]) { $1 },
                                standardOutput: .null, standardError: .pipe)
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while poll(&entry, 1, 30_000) == 1 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0, String(decoding: buffer[0..<n], as: UTF8.self).hasPrefix("READY=1") { return }
        }
        kill(process.pid, SIGKILL)
        let log = String(decoding: process.readToEnd().standardError, as: UTF8.self)
        _ = process.wait()
        throw NotReady(description: "no READY=1: \(log)")
    }

    /// SIGTERM, then its exit status and everything it logged.
    func stop() -> (status: Int32, log: String) {
        kill(process.pid, SIGTERM)
        let log = String(decoding: process.readToEnd().standardError, as: UTF8.self)
        return (process.wait(), log)
    }
}
