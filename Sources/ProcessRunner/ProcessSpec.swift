/// What to run and under which limits. Nothing is inherited from the daemon unless it is written
/// here: the environment is explicit, so a quick command never sees the daemon's secrets.
public struct ProcessSpec: Sendable {
    /// Absolute path of the program.
    public var executable: String
    /// The whole argv, `argv[0]` included.
    public var argv: [String]
    public var environment: [String: String]
    /// The child's working directory; nil keeps the daemon's.
    public var workingDirectory: String?
    /// After this long the process group gets SIGTERM.
    public var timeout: Duration
    /// After SIGTERM, this long until SIGKILL.
    public var killGrace: Duration
    /// Bytes kept per stream (stdout and stderr each); the rest is read and dropped.
    public var outputLimit: Int
    /// Bytes the child reads on stdin, then end of file; nil gives it `/dev/null`. Written into
    /// the pipe before the spawn, so at most `ProcessRunnerDefaults.maxInput` bytes.
    public var standardInput: [UInt8]?
    /// Each piece of stdout as it is read (within `outputLimit`, as kept), on the runner's
    /// reactor thread: for a caller that shows output while the command still runs (the
    /// `command` agent's replies). Must return at once; the result still carries all of it.
    public var onStandardOutput: (@Sendable ([UInt8]) -> Void)?

    public init(
        executable: String, argv: [String], environment: [String: String] = [:],
        workingDirectory: String? = nil, timeout: Duration = ProcessRunnerDefaults.timeout,
        killGrace: Duration = ProcessRunnerDefaults.killGrace,
        outputLimit: Int = ProcessRunnerDefaults.outputLimit,
        standardInput: [UInt8]? = nil
    ) {
        self.standardInput = standardInput
        self.executable = executable
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.killGrace = killGrace
        self.outputLimit = outputLimit
    }

    /// `/bin/sh -c COMMAND sh ARGS...`: the arguments reach the script as `"$1".."$N"` and are
    /// never spliced into the command text, so `; rm -rf /` in an argument stays a string.
    public static func shell(
        _ command: String, arguments: [String] = [], shell: String = ProcessRunnerDefaults.shell,
        environment: [String: String] = [:], workingDirectory: String? = nil,
        timeout: Duration = ProcessRunnerDefaults.timeout,
        killGrace: Duration = ProcessRunnerDefaults.killGrace,
        outputLimit: Int = ProcessRunnerDefaults.outputLimit
    ) -> ProcessSpec {
        ProcessSpec(
            executable: shell, argv: ["sh", "-c", command, "sh"] + arguments,
            environment: environment, workingDirectory: workingDirectory, timeout: timeout,
            killGrace: killGrace, outputLimit: outputLimit)
    }
}

/// The runner's defaults, in one place.
public enum ProcessRunnerDefaults {
    public static let shell = "/bin/sh"
    public static let timeout: Duration = .seconds(30)
    public static let killGrace: Duration = .seconds(1)
    public static let outputLimit = 64 * 1024
    public static let maxConcurrent = 8
    /// The most stdin a spec may carry (a pipe buffer, enlarged up to Linux's default
    /// `pipe-max-size`).
    public static let maxInput = 1 << 20
    /// PATH for commands when the caller names none.
    public static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}
