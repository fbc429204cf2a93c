// The dispatcher alone: an in-memory sink, the echo agent, plain messages. Release build:
//   swift run -c release gatewayd-dispatch-bench [--quick]
// Prints messages/s (one sender: the dispatcher actor runs on one thread at a time; and 16
// senders), allocations per message, and the same for an exec-free built-in (/whoami) as a
// baseline without an agent turn. Then metrics on vs off in the same run (a dispatcher with a
// registry against one without, rounds interleaved): plain text and /whoami messages/s, an exec
// quick command's round trip, and a scrape (every family, rendered) as its median time. Last
// line: one JSON document.
import CAllocCounter
import CGatewayShims
import GatewayCore
import GatewayWire
#if canImport(Glibc)
import Glibc
#endif

let quick = CommandLine.arguments.contains("--quick")
let count = quick ? 20_000 : 200_000

/// Counts replies; nothing else (the platform side costs nothing here).
final class CountingSink: ReplySink {
    func send(_ text: String) async {}
}

var settings = GatewayConfig()
settings.quickCommands["hi"] = QuickCommand(name: "hi", kind: .exec(command: "echo hi"))
let dispatcher = Dispatcher(config: settings, agent: EchoAgent())
let meteredDispatcher = Dispatcher(config: settings, agent: EchoAgent(), metrics: GatewayMetrics())
await dispatcher.markRunning()
await meteredDispatcher.markRunning()
let sink = CountingSink()
let messages = (0..<64).map { InboundMessage(platform: "local", chat: "chat\($0)", user: "user\($0)", text: "hello \($0)") }
let whoami = messages.map { message -> InboundMessage in
    var copy = message
    copy.text = "/whoami"
    return copy
}

func measure(_ batch: [InboundMessage], senders: Int, on dispatcher: Dispatcher = dispatcher, count: Int = count) async
    -> (perSecond: Double, allocations: Double)
{
    for message in batch.prefix(senders == 1 ? 64 : batch.count) { await dispatcher.handle(message, replies: sink) }
    let allocationsBefore = gw_allocations()
    let start = gw_monotonic_nsec()
    await withTaskGroup(of: Void.self) { group in
        for sender in 0..<senders {
            group.addTask {
                var index = sender
                while index < count {
                    await dispatcher.handle(batch[index % batch.count], replies: sink)
                    index += senders
                }
            }
        }
    }
    let seconds = Double(gw_monotonic_nsec() - start) / 1e9
    return (Double(count) / seconds, Double(gw_allocations() - allocationsBefore) / Double(count))
}

func format(_ value: Double) -> String { "\((value * 10).rounded() / 10)" }

// `--only off|on`: just 200,000 plain messages and 200,000 /whoami through one dispatcher,
// without or with a registry, for a counter of instructions (`perf stat -e instructions:u`):
// what metrics add, without the wall clock's noise.
if let index = CommandLine.arguments.firstIndex(of: "--only"), index + 1 < CommandLine.arguments.count {
    let chosen = CommandLine.arguments[index + 1] == "on" ? meteredDispatcher : dispatcher
    _ = await measure(messages, senders: 1, on: chosen)
    _ = await measure(whoami, senders: 1, on: chosen)
    exit(0)
}

let plainOne = await measure(messages, senders: 1)
let plainMany = await measure(messages, senders: 16)
let builtinOne = await measure(whoami, senders: 1)

print("Dispatcher benchmark (release), echo agent, \(count) messages")
print("plain text, 1 sender:   \(Int(plainOne.perSecond)) msg/s, \(format(plainOne.allocations)) allocations/msg (target > 200000 msg/s)")
print("plain text, 16 senders: \(Int(plainMany.perSecond)) msg/s, \(format(plainMany.allocations)) allocations/msg")
print("/whoami, 1 sender:      \(Int(builtinOne.perSecond)) msg/s, \(format(builtinOne.allocations)) allocations/msg")

// MARK: Metrics on vs off

/// This process's CPU time (every thread, user and system), in nanoseconds: what a message
/// costs, whatever else the machine runs (a shared, loaded machine swings wall-clock rates by
/// tens of percent from one round to the next).
func processCPU() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Of it, the time in user space (the dispatcher's own code, metrics included), in nanoseconds:
/// the kernel's share is mostly threads put to sleep and woken, which timing alone moves.
func userCPU() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return UInt64(usage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_utime.tv_usec) * 1000
}

/// Runs alternate, off then on, `rounds` times each; per configuration the best wall-clock rate
/// and the least CPU time per operation (noise only ever adds to either).
func compare(rounds: Int, operations: Int, _ run: (Dispatcher) async -> Double) async
    -> (off: Double, on: Double, cpuOff: Double, cpuOn: Double, userOff: Double, userOn: Double)
{
    var off = 0.0, on = 0.0, cpuOff = Double.infinity, cpuOn = Double.infinity, userOff = Double.infinity, userOn = Double.infinity
    for round in 0..<rounds {
        // Which goes first alternates too: the second of a pair runs on a warmer (or a more
        // fragmented) heap.
        for metered in round % 2 == 0 ? [false, true] : [true, false] {
            let cpu = processCPU(), user = userCPU()
            let rate = await run(metered ? meteredDispatcher : dispatcher)
            let used = Double(processCPU() - cpu) / Double(operations), inUser = Double(userCPU() - user) / Double(operations)
            if metered {
                on = max(on, rate); cpuOn = min(cpuOn, used); userOn = min(userOn, inUser)
            } else {
                off = max(off, rate); cpuOff = min(cpuOff, used); userOff = min(userOff, inUser)
            }
        }
    }
    return (off, on, cpuOff, cpuOn, userOff, userOn)
}

let hi = InboundMessage(platform: "local", chat: "ops", user: "root", text: "/hi")
let execRounds = quick ? 100 : 500
func execPerSecond(_ dispatcher: Dispatcher) async -> Double {
    let start = gw_monotonic_nsec()
    for _ in 0..<execRounds { await dispatcher.handle(hi, replies: sink) }
    return Double(execRounds) / (Double(gw_monotonic_nsec() - start) / 1e9)
}
let rounds = quick ? 3 : 30
let plain = await compare(rounds: rounds, operations: count / 8) { await measure(messages, senders: 1, on: $0, count: count / 8).perSecond }
let builtin = await compare(rounds: rounds, operations: count / 8) { await measure(whoami, senders: 1, on: $0, count: count / 8).perSecond }
let exec = await compare(rounds: 3, operations: execRounds) { await execPerSecond($0) }

// What counting one message costs, alone: the dispatcher's cells for a platform, one add.
let cells = GatewayMetrics().messageCells(platform: "local")
let additions = 10_000_000
let addStart = gw_monotonic_nsec()
for index in 0..<additions { cells.count(index & 1 == 0 ? .agent : .builtin) }
let addNanoseconds = Double(gw_monotonic_nsec() - addStart) / Double(additions)

var scrapes: [UInt64] = []
var scrapeBytes = 0
for _ in 0..<(quick ? 200 : 1000) {
    let start = gw_monotonic_nsec()
    let text = MetricsExposition.render(await meteredDispatcher.metricFamilies(MetricsScrape()), as: .prometheus)
    scrapes.append(gw_monotonic_nsec() - start)
    scrapeBytes = text.utf8.count
}
scrapes.sort()
let scrapeMedianMs = Double(scrapes[scrapes.count / 2]) / 1e6

func ratio(_ pair: (off: Double, on: Double, cpuOff: Double, cpuOn: Double, userOff: Double, userOn: Double)) -> String {
    "rate \(format(pair.on / pair.off * 100))%, CPU per operation \(format(pair.cpuOff)) vs \(format(pair.cpuOn)) ns (\(format(pair.cpuOn / pair.cpuOff * 100))%), "
        + "user CPU \(format(pair.userOff)) vs \(format(pair.userOn)) ns (\(format(pair.userOn / pair.userOff * 100))%)"
}
print("metrics off vs on (\(rounds) interleaved rounds; best rate, least CPU; on as % of off):")
print("  plain text, 1 sender: \(Int(plain.off)) vs \(Int(plain.on)) msg/s; \(ratio(plain))")
print("  /whoami, 1 sender:    \(Int(builtin.off)) vs \(Int(builtin.on)) msg/s; \(ratio(builtin))")
print("  exec /hi round trip:  \(format(1e6 / exec.off)) vs \(format(1e6 / exec.on)) µs; \(ratio(exec))")
print("  counting one message alone: \(format(addNanoseconds)) ns")
print("  scrape, every family rendered: median \(format(scrapeMedianMs * 1000)) µs, \(scrapeBytes) bytes (target < 5 ms)")
print("""
{"plain_1_sender":{"per_s":\(Int(plainOne.perSecond)),"allocs_per_msg":\(format(plainOne.allocations))},\
"plain_16_senders":{"per_s":\(Int(plainMany.perSecond)),"allocs_per_msg":\(format(plainMany.allocations))},\
"whoami_1_sender":{"per_s":\(Int(builtinOne.perSecond)),"allocs_per_msg":\(format(builtinOne.allocations))},\
"metrics":{"plain_off":\(Int(plain.off)),"plain_on":\(Int(plain.on)),"whoami_off":\(Int(builtin.off)),"whoami_on":\(Int(builtin.on)),\
"exec_us_off":\(format(1e6 / exec.off)),"exec_us_on":\(format(1e6 / exec.on)),\
"cpu_ns_per_msg":{"plain_off":\(format(plain.cpuOff)),"plain_on":\(format(plain.cpuOn)),"whoami_off":\(format(builtin.cpuOff)),"whoami_on":\(format(builtin.cpuOn))},\
"user_cpu_ns_per_msg":{"plain_off":\(format(plain.userOff)),"plain_on":\(format(plain.userOn)),"whoami_off":\(format(builtin.userOff)),"whoami_on":\(format(builtin.userOn))},\
"count_ns":\(format(addNanoseconds)),"scrape_median_us":\(format(scrapeMedianMs * 1000))}}
""")
