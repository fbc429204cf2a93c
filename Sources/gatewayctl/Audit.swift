import ArgumentParser
import GatewayWire
import JSON
#if canImport(Glibc)
import Glibc
#endif

/// `gatewayctl audit`: the audit trail read back from the journal. Runs `journalctl -o json`
/// with the matches filled in and formats its records: gatewayctl links no libsystemd (it must
/// start in milliseconds), and journalctl already knows where the journal is and who may read it.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show who steered gatewayd: changing control calls and privileged chat commands, refused ones too.",
        discussion: """
            Reads gatewayd's audit records (GATEWAY_AUDIT=1) from the journal of its unit, \
            through journalctl: each says who (local:USER with the peer's uid, pid and command \
            name on the control socket; the platform identity in chat), what (the method or \
            command and its arguments) and how it ended (ok, failed: ERROR, refused: REASON). \
            Reading the system journal needs root or the adm or systemd-journal group.

            Exit codes: 0 the records were shown (none found is not an error), 1 journalctl \
            could not run or failed (its message is shown), 64 usage.
            """)
    @Flag(name: .shortAndLong, help: "Follow new records.") var follow = false
    @Option(name: .customShort("n"), help: ArgumentHelp("Show the last N records.", valueName: "N")) var lines: Int?
    @Option(help: ArgumentHelp("Records since TIME, as journalctl takes it (\"2026-12-01 10:00\", \"-1h\", today).",
                               valueName: "TIME"))
    var since: String?
    @Option(help: "The systemd unit.") var unit = "gatewayd.service"
    /// `--json`: one object per record, stable keys (see `AuditEntry.json`).
    @OptionGroup var options: ClientOptions

    func validate() throws {
        if let lines, lines < 0 { throw ValidationError("-n: expected a number of records, 0 or more, got \(lines)") }
    }

    /// journalctl's command line: the unit (`_SYSTEMD_UNIT`, which journald sets, not the
    /// writer) and the audit marker.
    var journalctlArguments: [String] {
        var arguments = ["journalctl", "--no-pager", "-o", "json", "-u", unit,
                         AuditJournal.journalName(AuditJournal.marker) + "=" + AuditJournal.markerValue]
        if follow { arguments.append("-f") }
        if let lines { arguments += ["-n", String(lines)] }
        if let since { arguments += ["--since", since] }
        return arguments
    }

    func run() throws {
        let journalctl = try JournalReader(arguments: journalctlArguments)
        let terminal = isatty(STDOUT_FILENO) == 1
        while let line = journalctl.nextLine() {
            guard let record = try? JSONValue.parse(Array(line.utf8)), let entry = AuditEntry(record) else { continue }
            if options.json {
                Output.json(entry.json)
            } else {
                print(Output.escapingControls(entry.text, when: terminal))
            }
            if follow { fflush(nil) }
        }
        let status = journalctl.finish()
        guard status == 0 else {
            throw CtlFailure(status: ExitStatus.failed, message: "gatewayctl: journalctl exited with status \(status)")
        }
    }
}

/// One audit record as journalctl's JSON gives it.
struct AuditEntry {
    let fields: [String: JSONValue]

    init?(_ record: JSONValue) {
        guard let fields = record.object else { return nil }
        self.fields = fields
    }

    /// A field's text. journalctl writes a value with control characters or invalid UTF-8 as an
    /// array of its bytes, and a field given twice as an array of values (the first is taken).
    func value(_ name: String) -> String? {
        guard let value = fields[name] else { return nil }
        if case .array(let items) = value, let first = items.first, first.int == nil { return Self.text(first) }
        return Self.text(value)
    }

    private static func text(_ value: JSONValue) -> String? {
        if let text = value.string { return text }
        guard let bytes = value.array else { return nil }
        return String(decoding: bytes.compactMap { $0.int.map { UInt8(truncatingIfNeeded: $0) } }, as: UTF8.self)
    }

    func audit(_ key: String) -> String? { value(AuditJournal.journalName(key)) }

    var timestampUsec: Int64? { value("__REALTIME_TIMESTAMP").flatMap { Int64($0) } }

    /// `2026-12-01 15:03:47 Drain by local:root (uid 0, pid 42, gatewayctl): ok {"timeout_usec":5000000}`:
    /// the local time, the record's one-line message, and the arguments (the first 200 bytes;
    /// `--json` has them whole, as recorded).
    var text: String {
        let time = timestampUsec.map(Self.localTime) ?? "-"
        var line = time + " " + AuditJournal.oneLine(value("MESSAGE") ?? "")
        if let arguments = audit(AuditJournal.arguments), !arguments.isEmpty, arguments != "{}" {
            line += " " + AuditJournal.oneLine(arguments, limit: 200)
        }
        return line
    }

    /// Stable keys, only those the record has: `time_usec`, `action`, `arguments`, `outcome`,
    /// `caller`, `caller_account`, `caller_hostmask`, `chat`, `peer_uid`, `peer_pid`,
    /// `peer_comm`, `quick_command`, `exit_status`, `message`, `message_id`, `pid` (gatewayd's).
    var json: JSONValue {
        var object: [String: JSONValue] = [:]
        if let usec = timestampUsec { object["time_usec"] = .int(usec) }
        for key in [AuditJournal.action, AuditJournal.arguments, AuditJournal.outcome, AuditJournal.caller,
                    AuditJournal.callerAccount, AuditJournal.callerHostmask, AuditJournal.chat, AuditJournal.peerComm,
                    "quick_command"] {
            if let value = audit(key) { object[key] = .string(value) }
        }
        for key in [AuditJournal.peerUID, AuditJournal.peerPID, "exit_status"] {
            if let value = audit(key), let number = Int64(value) { object[key] = .int(number) }
        }
        if let message = value("MESSAGE") { object["message"] = .string(message) }
        if let id = value("MESSAGE_ID") { object["message_id"] = .string(id) }
        if let pid = value("_PID").flatMap({ Int64($0) }) { object["pid"] = .int(pid) }
        return .object(object)
    }

    static func localTime(_ usec: Int64) -> String {
        var seconds = time_t(usec / 1_000_000)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return String(usec) }
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// journalctl as a child whose standard output is read line by line (its standard error is
/// the terminal's: its own messages, "No journal files were found", reach the operator).
final class JournalReader {
    private let pid: pid_t
    private let stream: UnsafeMutablePointer<FILE>

    init(arguments: [String]) throws {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            throw CtlFailure(status: ExitStatus.failed, message: "gatewayctl: cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        // Neither end stays open in journalctl past the dup2 (its standard output is a copy).
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDOUT_FILENO)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawnp(&child, arguments[0], &actions, nil, argv, environ)
        close(pipeEnds[1])
        guard status == 0 else {
            close(pipeEnds[0])
            throw CtlFailure(status: ExitStatus.failed,
                             message: "gatewayctl: cannot run journalctl: \(String(cString: strerror(status))); is systemd installed?")
        }
        pid = child
        stream = fdopen(pipeEnds[0], "r")
    }

    /// The next line without its newline; nil at the end of the output.
    func nextLine() -> String? {
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        let count = getline(&line, &capacity, stream)
        guard count >= 0, let line else { return nil }
        let bytes = UnsafeRawBufferPointer(start: line, count: count)
        return String(decoding: bytes.last == UInt8(ascii: "\n") ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes,
                      as: UTF8.self)
    }

    /// Waits for journalctl; its exit status (128 + N when a signal N ended it).
    func finish() -> Int32 {
        fclose(stream)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
