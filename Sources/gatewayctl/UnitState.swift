#if canImport(Glibc)
import Glibc
#endif

/// What systemd says about the unit behind a control socket, so that a call that gets no answer
/// can say why ("the unit is crash-looping, see its journal") instead of only "no reply".
///
/// Asked only when a call is already late (or failed): `gatewayctl status` on a healthy daemon
/// never pays for a `systemctl` process.
struct UnitState {
    let unit: String
    let activeState: String
    let subState: String
    let result: String
    let restarts: Int

    /// The service that owns `socketPath` in the shipped layout: `/run/gatewayd/control` is
    /// gatewayd.service, `/run/gatewayd-NAME/control` is gatewayd@NAME.service; nil for any
    /// other path (a socket chosen by hand has no unit we know of).
    static func unit(forSocket socketPath: String) -> String? {
        let parts = socketPath.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[0] == "run", parts[2] == "control" else { return nil }
        let directory = parts[1]
        if directory == "gatewayd" { return "gatewayd.service" }
        guard directory.hasPrefix("gatewayd-") else { return nil }
        let instance = directory.dropFirst("gatewayd-".count)
        // Only what a unit name may hold: the name goes into an argv, never a shell, but a
        // strange one is surely not ours.
        guard !instance.isEmpty, instance.allSatisfy({ $0.isLetter || $0.isNumber || "_.-:".contains($0) }) else { return nil }
        return "gatewayd@\(instance).service"
    }

    /// The unit's state from `systemctl show`, or nil when systemctl is missing, not connected
    /// to a manager, or says nothing.
    static func query(_ unit: String) -> UnitState? {
        guard let output = runCapturing(["systemctl", "show", "--property=ActiveState,SubState,Result,NRestarts", unit]) else { return nil }
        var values: [Substring: Substring] = [:]
        for line in output.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[line[..<equals]] = line[line.index(after: equals)...]
        }
        guard let active = values["ActiveState"], let sub = values["SubState"] else { return nil }
        return UnitState(unit: unit, activeState: String(active), subState: String(sub),
                         result: String(values["Result"] ?? ""), restarts: values["NRestarts"].flatMap { Int($0) } ?? 0)
    }

    /// Failed, waiting to be started again after a failure, or starting again after failures:
    /// nothing will answer soon.
    var isFailing: Bool {
        activeState == "failed" || subState == "auto-restart"
            || (activeState == "activating" && restarts > 0 && result != "success")
    }

    /// `gatewayd.service is failing (failed, result exit-code, 3 restarts)`.
    var summary: String {
        var details = [subState == activeState ? activeState : "\(activeState)/\(subState)"]
        if !result.isEmpty && result != "success" { details.append("result \(result)") }
        if restarts > 0 { details.append("\(restarts) restart\(restarts == 1 ? "" : "s")") }
        return "\(unit) is \(isFailing ? "failing" : activeState) (\(details.joined(separator: ", ")))"
    }

    /// Where to look: the unit's journal and status.
    var hint: String { "see why with: journalctl -u \(unit) -n 50 (or systemctl status \(unit))" }
}

/// Runs argv (found on PATH) with stdin and stderr on /dev/null; its stdout, or nil when it could
/// not run or failed.
private func runCapturing(_ argv: [String]) -> String? {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { return nil }
    _ = fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(pipeEnds[1], F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let arguments = argv.map { strdup($0) } + [nil]
    defer { arguments.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, argv[0], &actions, nil, arguments, environ)
    close(pipeEnds[1])
    defer { close(pipeEnds[0]) }
    guard spawned == 0 else { return nil }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(pipeEnds[0], &chunk, chunk.count)
        if n > 0 { output += chunk[0..<n]; continue }
        if n < 0 && errno == EINTR { continue }
        break
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    guard status == 0 else { return nil }
    return String(decoding: output, as: UTF8.self)
}
