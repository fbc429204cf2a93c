// Matrix through gatewayd against a real Synapse, in one run. Release build:
//   swift build -c release --product gatewayd-matrix-bench && swift build -c release --product gatewayd
//   .build/release/gatewayd-matrix-bench [--quick]
// Starts a Synapse (the tests' SynapseServer: .ci/install-deps installs it), registers a bot and
// 16 users, each in a direct room with the bot. First the baseline: Synapse's own round trip, with
// a minimal echo client in this process (sync, send "echo: <text>" back at once, sends in
// parallel) in the bot's place; then the same load through the gatewayd beside this binary
// (`platforms.matrix`, the echo agent). Each user sends a message, syncs until its echo is in the
// room, and sends the next, for the measured time: replies/s in all, and the latency from the
// send to the echo seen in the user's /sync (p50, p99). The baseline also gives the one-way time
// (a user's send to the echo client's sync seeing it). Prints one JSON document last.
import BenchSupport
import CGatewayTestShims
import Foundation
import GatewayTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the threads share, under one lock.
final class Shared: @unchecked Sendable {
    private let lock = NSLock()
    private var latencies: [Double] = []
    private var failure: (any Error)?
    private var sent: [String: ContinuousClock.Instant] = [:]
    private var oneWay: [Double] = []
    private var stopped = false

    func add(_ values: [Double]) { lock.withLock { latencies += values } }
    func fail(_ error: any Error) { lock.withLock { failure = error } }
    func noteSent(_ id: String, _ at: ContinuousClock.Instant) { lock.withLock { sent[id] = at } }
    func noteSeen(_ id: String, _ now: ContinuousClock.Instant) {
        lock.withLock { if let at = sent.removeValue(forKey: id) { oneWay.append(Bench.milliseconds(now - at)) } }
    }
    func stop() { lock.withLock { stopped = true } }
    var isStopped: Bool { lock.withLock { stopped } }
    var oneWayTimes: [Double] { lock.withLock { oneWay } }
    func take() throws -> [Double] {
        try lock.withLock {
            if let failure { throw failure }
            defer { latencies = [] }
            return latencies
        }
    }
}

enum Bench {
    static let quick = CommandLine.arguments.contains("--quick")
    static let seconds = quick ? 5.0 : 20.0
    static let userCount = 16

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
    }

    /// One user's load: send, wait for the echo, send the next, until `deadline`; latencies in ms.
    static func load(_ user: MatrixTestClient, room: String, bot: String, tag: String, until deadline: ContinuousClock.Instant,
                     shared: Shared?) throws -> [Double] {
        var latencies: [Double] = []
        var index = 0
        while ContinuousClock.now < deadline {
            index += 1
            let text = "\(tag) \(index)"
            let started = ContinuousClock.now
            let id = try user.send(text, to: room)
            shared?.noteSent(id, started)
            let seen = try user.waitFor(timeout: .seconds(30)) { events in
                events.last { $0.room == room && $0.sender == bot && $0.type == "m.room.message" }?.body == "echo: " + text
            }
            guard seen else { throw SynapseError("no echo of \(text.debugDescription) within 30 s") }
            latencies.append(milliseconds(ContinuousClock.now - started))
        }
        return latencies
    }

    /// `load` for every user at once (a thread each) after a second of warm-up; replies/s and latencies.
    static func measure(_ users: [MatrixTestClient], rooms: [String], bot: String, tag: String,
                        oneWay: Shared? = nil) throws -> (perSecond: Double, latencies: [Double]) {
        let shared = Shared()
        func run(until deadline: ContinuousClock.Instant, tag: String, counted: Bool) throws {
            let group = DispatchGroup()
            for (index, user) in users.enumerated() {
                group.enter()
                let room = rooms[index]
                Thread.detachNewThread {
                    defer { group.leave() }
                    do {
                        let latencies = try load(user, room: room, bot: bot, tag: tag, until: deadline, shared: counted ? oneWay : nil)
                        if counted { shared.add(latencies) }
                    } catch {
                        shared.fail(error)
                    }
                }
            }
            group.wait()
        }
        try run(until: .now + .seconds(1), tag: tag + "-warm", counted: false)
        _ = try shared.take()
        let started = ContinuousClock.now
        try run(until: started + .milliseconds(Int64(seconds * 1000)), tag: tag, counted: true)
        let latencies = try shared.take()
        return (Double(latencies.count) / (milliseconds(ContinuousClock.now - started) / 1000), latencies)
    }

    static func summary(_ result: (perSecond: Double, latencies: [Double])) -> String {
        String(format: #"{"replies_per_second": %.1f, "replies": %d, "latency_ms": {"p50": %.1f, "p99": %.1f}}"#,
               result.perSecond, result.latencies.count, percentile(result.latencies, 0.5), percentile(result.latencies, 0.99))
    }

    /// The baseline's echo client: syncs, and sends each person's message back at once.
    static func echo(_ client: MatrixTestClient, _ shared: Shared) {
        var handled = 0
        let sends = DispatchQueue(label: "echo-sends", attributes: .concurrent)
        while !shared.isStopped {
            do { try client.syncOnce(timeoutMilliseconds: 1000) } catch { continue }
            let events = client.events
            let now = ContinuousClock.now
            for event in events[handled...] where event.type == "m.room.message" && event.sender != client.userID {
                guard let body = event.body else { continue }
                shared.noteSeen(event.id, now)
                sends.async { _ = try? client.send("echo: " + body, to: event.room, msgtype: "m.notice") }
            }
            handled = events.count
        }
    }

    static func main() throws {
        guard SynapseServer.isAvailable else {
            FileHandle.standardError.write(Data("gatewayd-matrix-bench: \(SynapseServer.unavailableReason ?? "")\n".utf8))
            exit(2)
        }
        let server = try SynapseServer()
        defer { server.stop() }

        // Baseline: Synapse's own round trip.
        let echoClient = try MatrixTestClient(server, name: "echo")
        let baselineUsers = try (0..<userCount).map { try MatrixTestClient(server, name: "base\($0)") }
        let baselineRooms = try baselineUsers.map { user -> String in
            let room = try user.createRoom(invite: [echoClient.userID], direct: true)
            try echoClient.join(room)
            return room
        }
        let echoState = Shared()
        Thread.detachNewThread { echo(echoClient, echoState) }
        let baseline = try measure(baselineUsers, rooms: baselineRooms, bot: echoClient.userID, tag: "base", oneWay: echoState)
        echoState.stop()

        // Through gatewayd.
        let bot = try MatrixTestClient(server, name: "gatewayd")
        let users = try (0..<userCount).map { try MatrixTestClient(server, name: "user\($0)") }
        let token = bot.accessToken
        let daemon = try BenchDaemon(name: "gatewayd-matrix-bench") { directory in
            try! (token + "\n").write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            return """
                access: {allowed_users: ["matrix:*"]}
                busy_input_mode: queue
                sessions: {max: 100000}
                platforms:
                  matrix: {homeserver: "\(server.baseURL)", user_id: "\(bot.userID)", access_token_file: \(directory)/token}
                state_dir: \(directory)/state
                """
        }
        let rooms = try users.map { user -> String in
            let room = try user.createRoom(invite: [bot.userID], direct: true)
            guard try user.waitFor({ _ in user.hasJoined(bot.userID, room) }) else { throw SynapseError("gatewayd did not join \(room)") }
            return room
        }
        let gateway = try measure(users, rooms: rooms, bot: bot.userID, tag: "gw")
        daemon.stop()

        let oneWay = echoState.oneWayTimes
        print("""
            {"users": \(userCount), "seconds": \(seconds),
             "synapse_echo_client": \(summary(baseline)),
             "synapse_one_way_ms": {"p50": \(String(format: "%.1f", percentile(oneWay, 0.5))), "p99": \(String(format: "%.1f", percentile(oneWay, 0.99))), "count": \(oneWay.count)},
             "gatewayd": \(summary(gateway))}
            """)
    }
}

try Bench.main()
