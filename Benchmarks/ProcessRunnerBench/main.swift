// Benchmarks ProcessRunner against the C floor (CSpawnBaseline) in one process and one run.
// Build and run in release: swift run -c release gatewayd-runner-bench [--quick]
// Prints a human table and, last, one JSON line with every figure.
import CGatewayShims
import CSpawnBaseline
import ProcessRunner
#if canImport(Glibc)
import Glibc
#endif

let quick = CommandLine.arguments.contains("--quick")
let sequentialRuns = quick ? 100 : 1000
let concurrentTotal = quick ? 500 : 4000
let concurrency = 32
let timeoutRuns = quick ? 10 : 50
let command = "echo hi"

struct Stats {
    let median: Double
    let p99: Double
    init(_ nanos: [UInt64]) {
        let sorted = nanos.sorted()
        median = Double(sorted[sorted.count / 2]) / 1e6
        p99 = Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) / 1e6
    }
}

func format(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return "\(scaled)"
}

func cBaselineOnce() -> UInt64 {
    var out = [CChar](repeating: 0, count: 256)
    var length = 0
    var status: Int32 = 0
    let start = gw_monotonic_nsec()
    let rc = gwb_spawn_collect(command, &out, out.count, &length, &status)
    precondition(rc == 0 && length == 3, "C baseline failed: \(rc)")
    return gw_monotonic_nsec() - start
}

func runnerOnce(_ runner: ProcessRunner) async throws -> UInt64 {
    let start = gw_monotonic_nsec()
    let result = try await runner.run(.shell(command, environment: ProcessRunner.minimalEnvironment))
    precondition(result.standardOutput.bytes.count == 3, "runner output wrong")
    return gw_monotonic_nsec() - start
}

/// Resets VmHWM to the current RSS (proc(5), clear_refs "5"), so the next peak is this test's own.
func resetPeakRSS() {
    guard let file = fopen("/proc/self/clear_refs", "w") else { return }
    fputs("5", file)
    fclose(file)
}

func statusKiB(_ field: String) -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(cString: line)
        if text.hasPrefix(field + ":") {
            return Int(text.split(separator: " ").dropFirst().first.map(String.init) ?? "") ?? -1
        }
    }
    return -1
}

let runner = ProcessRunner(maxConcurrent: concurrency)
ProcessRunner.raiseFileDescriptorLimit()

// Warm up both paths (page cache, the reactor thread, the shell binary).
for _ in 0..<50 { _ = cBaselineOnce(); _ = try await runnerOnce(runner) }

// 1. Sequential: alternate blocks of C and Swift so drift on a shared machine hits both alike.
var cSequential: [UInt64] = []
var swiftSequential: [UInt64] = []
for _ in 0..<10 {
    for _ in 0..<(sequentialRuns / 10) { cSequential.append(cBaselineOnce()) }
    for _ in 0..<(sequentialRuns / 10) { swiftSequential.append(try await runnerOnce(runner)) }
}
let cSeq = Stats(cSequential), swiftSeq = Stats(swiftSequential)

/// CPU seconds this process (all threads) has used: the parent's cost of each spawn.
func selfCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
var cpuMark = selfCPUSeconds()
// 2. 32 in flight: C with 32 threads, Swift with 32 tasks on the runner.
var cLatencies = [UInt64](repeating: 0, count: concurrentTotal)
var start = gw_monotonic_nsec()
precondition(gwb_run_concurrent(command, Int32(concurrency), Int32(concurrentTotal), &cLatencies) == 0)
let cElapsed = Double(gw_monotonic_nsec() - start) / 1e9
let cCPUPerSpawn = (selfCPUSeconds() - cpuMark) / Double(concurrentTotal) * 1e6
cpuMark = selfCPUSeconds()

start = gw_monotonic_nsec()
let swiftLatencies = try await withThrowingTaskGroup(of: [UInt64].self) { group in
    for worker in 0..<concurrency {
        group.addTask {
            var mine: [UInt64] = []
            var index = worker
            while index < concurrentTotal {
                mine.append(try await runnerOnce(runner))
                index += concurrency
            }
            return mine
        }
    }
    var all: [UInt64] = []
    for try await part in group { all += part }
    return all
}
let swiftElapsed = Double(gw_monotonic_nsec() - start) / 1e9
let swiftCPUPerSpawn = (selfCPUSeconds() - cpuMark) / Double(concurrentTotal) * 1e6
let cThroughput = Double(concurrentTotal) / cElapsed
let swiftThroughput = Double(concurrentTotal) / swiftElapsed

// 3. Timeout overshoot: 100 ms timeout on a shell whose background grandchild holds stdout.
var overshoots: [UInt64] = []
for _ in 0..<timeoutRuns {
    let result = try await runner.run(.shell(
        "sleep 60 & sleep 60", environment: ProcessRunner.minimalEnvironment, timeout: .milliseconds(100)))
    precondition(result.timedOut)
    let nanos = UInt64(result.duration.components.seconds) * 1_000_000_000
        + UInt64(result.duration.components.attoseconds / 1_000_000_000)
    overshoots.append(nanos > 100_000_000 ? nanos - 100_000_000 : 0)
}
let overshoot = Stats(overshoots)

// 4. 1 GiB of output through a 64 KiB cap: peak RSS growth and time.
resetPeakRSS()
let rssBefore = statusKiB("VmRSS")
start = gw_monotonic_nsec()
let big = try await runner.run(.shell(
    "head -c 1073741824 /dev/zero", environment: ProcessRunner.minimalEnvironment, timeout: .seconds(60)))
let gibSeconds = Double(gw_monotonic_nsec() - start) / 1e9
let rssGrowth = statusKiB("VmHWM") - rssBefore
precondition(big.standardOutput.totalBytes == 1 << 30 && big.standardOutput.bytes.count == 65536)

print("ProcessRunner benchmark (release), sh -c '\(command)'")
print("sequential  median ms: C \(format(cSeq.median))  runner \(format(swiftSeq.median))  ratio \(format(swiftSeq.median / cSeq.median)) (target <= 1.2)")
print("sequential  p99 ms:    C \(format(cSeq.p99))  runner \(format(swiftSeq.p99))")
print("32 in flight spawns/s: C \(Int(cThroughput))  runner \(Int(swiftThroughput))  ratio \(format(swiftThroughput / cThroughput)) (target >= 0.8)")
print("parent CPU us/spawn:   C \(Int(cCPUPerSpawn))  runner \(Int(swiftCPUPerSpawn))")
print("timeout overshoot ms:  median \(format(overshoot.median))  p99 \(format(overshoot.p99)) (target p99 < 20)")
print("1 GiB output:          \(format(gibSeconds)) s, peak RSS growth \(rssGrowth) KiB")
print("""
{"sequential_median_ms":{"c":\(format(cSeq.median)),"runner":\(format(swiftSeq.median))},\
"sequential_p99_ms":{"c":\(format(cSeq.p99)),"runner":\(format(swiftSeq.p99))},\
"sequential_ratio":\(format(swiftSeq.median / cSeq.median)),\
"concurrent32_per_s":{"c":\(Int(cThroughput)),"runner":\(Int(swiftThroughput))},\
"concurrent32_ratio":\(format(swiftThroughput / cThroughput)),\
"parent_cpu_us_per_spawn":{"c":\(Int(cCPUPerSpawn)),"runner":\(Int(swiftCPUPerSpawn))},\
"timeout_overshoot_ms":{"median":\(format(overshoot.median)),"p99":\(format(overshoot.p99))},\
"gib_output":{"seconds":\(format(gibSeconds)),"peak_rss_growth_kib":\(rssGrowth)}}
""")
