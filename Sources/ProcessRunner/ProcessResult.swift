/// How a finished process ended, with what it wrote.
public struct ProcessResult: Sendable {
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signaled(let signal): "killed by signal \(signal)"
            }
        }
    }

    public var pid: Int32
    public var termination: Termination
    /// The timeout fired (the group was sent SIGTERM, then SIGKILL after the grace period).
    public var timedOut: Bool
    public var standardOutput: CapturedOutput
    public var standardError: CapturedOutput
    /// From just before the spawn to the reaping of the main process.
    public var duration: Duration

    /// The exit status, nil when a signal ended the process.
    public var exitStatus: Int32? {
        if case .exited(let code) = termination { code } else { nil }
    }

    /// The terminating signal, nil when the process exited.
    public var signal: Int32? {
        if case .signaled(let number) = termination { number } else { nil }
    }

    public var truncated: Bool { standardOutput.truncated || standardError.truncated }
}

/// One stream's captured bytes, up to the limit, and how much the process really wrote.
public struct CapturedOutput: Sendable, Equatable {
    public var bytes: [UInt8]
    /// Bytes read from the pipe in all, kept or dropped.
    public var totalBytes: Int

    public init(bytes: [UInt8] = [], totalBytes: Int = 0) {
        self.bytes = bytes
        self.totalBytes = totalBytes
    }

    public var truncated: Bool { totalBytes > bytes.count }

    /// The bytes as text, invalid UTF-8 replaced by U+FFFD (never dropped, never a crash).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
