// A small program the tests run inside a real systemd manager or journald, to exercise the
// Systemd module from a process that systemd started. Not installed.
//
//   GatewayTestHelper journal TAG           log records through JournalLogHandler
//   GatewayTestHelper auto TAG              log one record through the auto-detected target
//   GatewayTestHelper socket-echo           answer each connection on the passed socket(s)
import CGatewayShims
import Logging
import Systemd
#if canImport(Glibc)
import Glibc
#endif

func writeLine(_ fd: Int32, _ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    writeLine(2, "usage: GatewayTestHelper journal|auto|socket-echo [TAG]")
    exit(64)
}

switch arguments[1] {
case "journal":
    let tag = arguments.count > 2 ? arguments[2] : "untagged"
    LogHandlerFactory(target: .journal, identifier: "gatewayd-test", fieldPrefix: "GATEWAY_", level: .trace)
        .bootstrap()
    var logger = Logger(label: "test")
    logger[metadataKey: "test_tag"] = "\(tag)"
    logger.info("plain record", metadata: ["session": "local:dm:alice", "quick-command name!": "up time"])
    logger.warning("two\nlines", metadata: ["multi": "first\nsecond\n", "kind": "warning"])
    logger.debug("debug record", metadata: ["kind": "debug"])
    logger.critical("critical record", metadata: ["kind": "critical"])
case "auto":
    let tag = arguments.count > 2 ? arguments[2] : "untagged"
    let journalStream = getenv("JOURNAL_STREAM").map { String(cString: $0) }
    let target = LogTargetChoice.auto.resolve(journalStream: journalStream)
    LogHandlerFactory(target: target, identifier: "gatewayd-test", fieldPrefix: "GATEWAY_").bootstrap()
    var logger = Logger(label: "test")
    logger[metadataKey: "test_tag"] = "\(tag)"
    logger.info("auto record target=\(target.rawValue)")
case "socket-echo":
    let sockets: [ActivatedSocket]
    do {
        sockets = try SocketActivation.listeners()
    } catch {
        writeLine(2, "socket-echo: \(error)")
        exit(1)
    }
    guard let socket = sockets.first else {
        writeLine(2, "socket-echo: no socket passed (LISTEN_FDS unset)")
        exit(2)
    }
    while true {
        let client = accept(socket.fileDescriptor, nil, nil)
        if client < 0 { continue }
        var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
        _ = gw_peer_credentials(client, &pid, &uid, &gid)
        writeLine(client, "name=\(socket.name) fd=\(socket.fileDescriptor) count=\(sockets.count) server_pid=\(getpid()) peer_pid=\(pid)")
        close(client)
    }
default:
    writeLine(2, "GatewayTestHelper: unknown mode \(arguments[1])")
    exit(64)
}
