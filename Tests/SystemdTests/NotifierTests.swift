import CGatewayShims
import CGatewayTestShims
import Foundation
import GatewayTestSupport
import Systemd
import Testing

/// sd_notify as a manager sees it: a real SOCK_DGRAM socket, datagrams sent by a real child
/// process (the test helper), credentials from SO_PASSCRED.
@Suite("Notifier", .timeLimit(.minutes(1)), .ownThread)
struct NotifierTests {
    struct Datagram {
        let payload: String
        let senderPID: pid_t
    }

    /// Binds `address`, runs the helper's notify actions against it, returns what arrived.
    func notifications(at address: String, actions: [String]) throws -> (ProcessOutput, [Datagram]) {
        let fd = gw_unix_bind(address, 0)
        try #require(fd >= 0, "bind \(address): errno \(errno)")
        defer {
            close(fd)
            if !address.hasPrefix("@") { unlink(address) }
        }
        #expect(gw_enable_passcred(fd) == 0)
        let output = try run([TestPaths.testHelper, "notify"] + actions,
                             environment: environment(with: ["NOTIFY_SOCKET": address]))
        var datagrams: [Datagram] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        // The child has exited: everything it sent is queued. poll(0) ends the loop.
        while poll(&entry, 1, 0) == 1 {
            var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
            let n = gw_recv_with_credentials(fd, &buffer, buffer.count, &pid, &uid, &gid)
            guard n >= 0 else { break }
            datagrams.append(Datagram(payload: String(decoding: buffer[0..<n], as: UTF8.self), senderPID: pid))
        }
        return (output, datagrams)
    }

    @Test("each call sends one datagram with the exact payload, from the process itself",
          arguments: ["path", "abstract"])
    func exactPayloads(kind: String) throws {
        let address = kind == "path"
            ? makeTemporaryDirectory() + "/notify.sock"
            : "@gatewayd-test-notify-\(UUID().uuidString)"
        let before = gw_monotonic_usec()
        let (output, datagrams) = try notifications(at: address, actions: [
            "ready:Running: 2 platforms", "status:line one\nline two", "reloading", "stopping:Draining",
            "watchdog", "extend:5",
        ])
        let after = gw_monotonic_usec()
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput == "enabled=true\n")
        try #require(datagrams.count == 6, "\(datagrams.map(\.payload))")
        #expect(datagrams.allSatisfy { $0.senderPID == output.pid })
        #expect(datagrams[0].payload == "READY=1\nMAINPID=\(output.pid)\nSTATUS=Running: 2 platforms")
        #expect(datagrams[1].payload == "STATUS=line one line two")
        let reload = datagrams[2].payload.split(separator: "\n")
        #expect(reload.count == 2 && reload[0] == "RELOADING=1")
        let stamp = try #require(reload.last.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) })
        #expect(reload.last?.hasPrefix("MONOTONIC_USEC=") == true)
        #expect(stamp >= before && stamp <= after, "MONOTONIC_USEC \(stamp) outside [\(before), \(after)]")
        #expect(datagrams[3].payload == "STOPPING=1\nSTATUS=Draining")
        #expect(datagrams[4].payload == "WATCHDOG=1")
        #expect(datagrams[5].payload == "EXTEND_TIMEOUT_USEC=5000000")
        if !address.hasPrefix("@") { try? FileManager.default.removeItem(atPath: (address as NSString).deletingLastPathComponent) }
    }

    @Test("without NOTIFY_SOCKET every call is a quiet no-op")
    func disabledWithoutSocket() throws {
        let output = try run([TestPaths.testHelper, "notify", "ready", "status:x", "stopping"],
                             environment: environment(with: [:]))
        #expect(output.status == 0)
        #expect(output.standardOutput == "enabled=false\n")
        #expect(output.standardError.isEmpty)
    }

    @Test("a socket that is not there is an error with errno, not silence")
    func deliveryFailureSurfaces() throws {
        let output = try run([TestPaths.testHelper, "notify", "ready"],
                             environment: environment(with: ["NOTIFY_SOCKET": "/nonexistent/gatewayd/notify"]))
        #expect(output.status == 3)
        #expect(output.standardError.hasPrefix("code=notify_failed errno=\(ENOENT) "))
        #expect(output.standardError.contains("READY"))
    }

    @Test("the watchdog interval is half of WATCHDOG_USEC, and off when not ours")
    func watchdogInterval() throws {
        func interval(_ changes: [String: String?]) throws -> ProcessOutput {
            try run([TestPaths.testHelper, "watchdog"], environment: environment(with: changes))
        }
        #expect(try interval(["WATCHDOG_USEC": "3000000"]).standardOutput == "1500000\n")
        #expect(try interval([:]).standardOutput == "off\n")
        // Meant for another process (pid 1), as after a fork.
        #expect(try interval(["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"]).standardOutput == "off\n")
        let malformed = try interval(["WATCHDOG_USEC": "soon"])
        #expect(malformed.status == 3)
        #expect(malformed.standardError.hasPrefix("code=watchdog_failed"))
    }
}
