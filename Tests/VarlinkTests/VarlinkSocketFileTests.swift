import CGatewayShims
import CGatewayTestShims
import Foundation
import GatewayTestSupport
import Testing
@testable import Varlink
import VarlinkClient
import VarlinkProtocol

/// The socket file: its mode from the moment it exists, its group given without following a
/// symlink, and a stale socket (but nothing else) replaced.
@Suite("Varlink server: the socket file", .timeLimit(.minutes(1)))
struct VarlinkSocketFileTests {
    static func server() -> VarlinkServer {
        VarlinkServer(info: VarlinkServiceInfo(vendor: "v", product: "p", version: "1", url: "u"), interfaces: [])
    }

    static func fileStatus(_ path: String) -> stat {
        var info = stat()
        lstat(path, &info)
        return info
    }

    /// A file the test owns (mode 0600), which a followed symlink would expose; its status now.
    static func precious(in directory: String) throws -> (path: String, status: stat) {
        let target = directory + "/precious"
        try "keep".write(toFile: target, atomically: true, encoding: .utf8)
        chmod(target, 0o600)
        return (target, fileStatus(target))
    }

    static func unchanged(_ path: String, since before: stat) -> Bool {
        let after = fileStatus(path)
        return after.st_mode == before.st_mode && after.st_gid == before.st_gid && after.st_uid == before.st_uid
    }

    /// The process umask, read without changing it (umask(2) would change it for every thread of
    /// the test process, and tests run side by side).
    static var processUmask: mode_t? {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("Umask:") }
            .flatMap { mode_t($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) }
    }

    @Test("the file has its mode from the start, not less the umask, and the process umask is untouched",
          arguments: [UInt32(0o660), 0o666, 0o600])
    func modeFromTheStart(mode: UInt32) async throws {
        let directory = makeTemporaryDirectory("gatewayd-varlink")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/control"
        let umaskBefore = try #require(Self.processUmask)
        let server = Self.server()
        var atBind: mode_t = 0
        // Right after bind(), before anything else is done to the file.
        _ = try await server.bind(path: path, mode: mode, groupID: nil) { atBind = Self.fileStatus(path).st_mode & 0o7777 }
        #expect(atBind == mode_t(mode), "mode right after bind: \(String(atBind, radix: 8)) (umask \(String(umaskBefore, radix: 8)))")
        #expect(Self.fileStatus(path).st_mode & 0o7777 == mode_t(mode))
        #expect(Self.processUmask == umaskBefore, "the process umask was changed")
        #expect(try VarlinkConnection(path: path).call(VarlinkCall(method: "org.varlink.service.GetInfo")).error == nil)
        await server.shutdown()
    }

    @Test("a stale socket is replaced; a symlink (or a file) at the path is refused and its target left alone")
    func symlinkNotFollowed() async throws {
        let directory = makeTemporaryDirectory("gatewayd-varlink")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stalePath = directory + "/stale"
        close(gw_unix_bind(stalePath, 1))
        let stale = Self.server()
        _ = try await stale.bind(path: stalePath, mode: 0o640)
        #expect(Self.fileStatus(stalePath).st_mode & 0o777 == 0o640)
        await stale.shutdown()

        // A symlink to a file the test owns where the socket should go.
        let (target, before) = try Self.precious(in: directory)
        let path = directory + "/control"
        symlink(target, path)
        let server = Self.server()
        let refused = await #expect(throws: VarlinkSocketError.self) {
            try await server.bind(path: path, mode: 0o666, groupID: 100)
        }
        #expect(refused?.code == EEXIST)
        #expect(refused?.message.contains("not a socket") == true)
        #expect(Self.unchanged(target, since: before))
        #expect(Self.fileStatus(path).st_mode & S_IFMT == S_IFLNK, "the symlink is still there")
        await server.shutdown()
    }

    @Test("a socket someone still serves on is not taken over: the second server is refused, the first still answers")
    func liveSocketKept() async throws {
        let directory = makeTemporaryDirectory("gatewayd-varlink")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/control"
        let first = Self.server()
        _ = try await first.bind(path: path, mode: 0o600)
        let second = Self.server()
        let refused = await #expect(throws: VarlinkSocketError.self) { try await second.bind(path: path, mode: 0o600) }
        #expect(refused?.code == EADDRINUSE)
        #expect(refused?.message.contains("another process is serving on \(path)") == true)
        let reply = try await onThread { try VarlinkConnection(path: path, timeout: .seconds(30)).call(VarlinkCall(method: "org.varlink.service.GetInfo")) }
        #expect(reply.error == nil, "the first server still owns its socket file")
        await second.shutdown()
        await first.shutdown()
    }

    @Test("a symlink swapped in after bind is not followed when the group is applied")
    func swappedAfterBind() async throws {
        let directory = makeTemporaryDirectory("gatewayd-varlink")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (target, before) = try Self.precious(in: directory)
        let path = directory + "/control"
        let server = Self.server()
        // Someone who can write the directory replaces the fresh socket with a symlink.
        let swapped = await #expect(throws: VarlinkSocketError.self) {
            try await server.bind(path: path, mode: 0o666, groupID: 100) {
                unlink(path)
                symlink(target, path)
            }
        }
        #expect(swapped?.code == ENOTSOCK)
        #expect(Self.unchanged(target, since: before), "the target was changed")
        await server.shutdown()
    }

    @Test("the group is applied to the socket file itself, and changed there on request", .enabled(if: geteuid() == 0, "needs root to give any group"))
    func groupApplied() async throws {
        let directory = makeTemporaryDirectory("gatewayd-varlink")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/control"
        let server = Self.server()
        let problem = try await server.bind(path: path, mode: 0o660, groupID: 100)
        #expect(problem == nil)
        #expect(Self.fileStatus(path).st_gid == 100)
        #expect(Self.fileStatus(path).st_mode & 0o777 == 0o660)
        // A reload's new admin group.
        #expect(server.changeSocketGroup(to: 4) == nil)
        #expect(Self.fileStatus(path).st_gid == 4)
        // Not through a symlink put in the socket's place.
        let (target, before) = try Self.precious(in: directory)
        unlink(path)
        symlink(target, path)
        #expect(server.changeSocketGroup(to: 50)?.code == ENOTSOCK)
        #expect(Self.unchanged(target, since: before))
        await server.shutdown()
    }
}
