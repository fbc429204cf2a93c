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

let quick = CommandLine.arguments.contains("--quick")
let count = quick ? 20_000 : 200_000

/// Counts replies; nothing else (the platform side costs nothing here).
final class CountingSink: ReplySink {
    func send(_ text: String) async {}
}

var settings = GatewayConfig()
settings.quickCommands["hi"] = QuickCommand(name: "hi", kind: .exec(command: "echo hi"))
let dispatcher = Dispatcher(config: settings, agent: EchoAgent())
let metered = Dispatcher(config: settings, agent: EchoAgent(), metrics: GatewayMetrics())
await dispatcher.markRunning()
await metered.markRunning()
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

let plainOne = await measure(messages, senders: 1)
let plainMany = await measure(messages, senders: 16)
let builtinOne = await measure(whoami, senders: 1)

print("Dispatcher benchmark (release), echo agent, \(count) messages")
print("plain text, 1 sender:   \(Int(plainOne.perSecond)) msg/s, \(format(plainOne.allocations)) allocations/msg (target > 200000 msg/s)")
print("plain text, 16 senders: \(Int(plainMany.perSecond)) msg/s, \(format(plainMany.allocations)) allocations/msg")
print("/whoami, 1 sender:      \(Int(builtinOne.perSecond)) msg/s, \(format(builtinOne.allocations)) allocations/msg")

// MARK: Metrics on vs off

/// The best of `rounds` interleaved runs each: a loaded machine's noise only ever slows a run.
func compare(rounds: Int, _ run: (Dispatcher) async -> Double) async -> (off: Double, on: Double) {
    var off = 0.0, on = 0.0
    for _ in 0..<rounds {
        off = max(off, await run(dispatcher))
        on = max(on, await run(metered))
    }
    return (off, on)
}

let hi = InboundMessage(platform: "local", chat: "ops", user: "root", text: "/hi")
let execRounds = quick ? 100 : 500
func execPerSecond(_ dispatcher: Dispatcher) async -> Double {
    let start = gw_monotonic_nsec()
    for _ in 0..<execRounds { await dispatcher.handle(hi, replies: sink) }
    return Double(execRounds) / (Double(gw_monotonic_nsec() - start) / 1e9)
}
let plain = await compare(rounds: 5) { await measure(messages, senders: 1, on: $0, count: count / 4).perSecond }
let builtin = await compare(rounds: 5) { await measure(whoami, senders: 1, on: $0, count: count / 4).perSecond }
let exec = await compare(rounds: 3) { await execPerSecond($0) }

var scrapes: [UInt64] = []
var scrapeBytes = 0
for _ in 0..<(quick ? 200 : 1000) {
    let start = gw_monotonic_nsec()
    let text = MetricsExposition.render(await metered.metricFamilies(MetricsScrape()), as: .prometheus)
    scrapes.append(gw_monotonic_nsec() - start)
    scrapeBytes = text.utf8.count
}
scrapes.sort()
let scrapeMedianMs = Double(scrapes[scrapes.count / 2]) / 1e6

func ratio(_ pair: (off: Double, on: Double)) -> String { format(pair.on / pair.off * 100) + "%" }
print("metrics on vs off (best of interleaved rounds; on/off):")
print("  plain text, 1 sender: \(Int(plain.off)) vs \(Int(plain.on)) msg/s (\(ratio(plain)))")
print("  /whoami, 1 sender:    \(Int(builtin.off)) vs \(Int(builtin.on)) msg/s (\(ratio(builtin)))")
print("  exec /hi round trip:  \(format(1e6 / exec.off)) vs \(format(1e6 / exec.on)) µs (\(ratio(exec)) of the rate)")
print("  scrape, every family rendered: median \(format(scrapeMedianMs * 1000)) µs, \(scrapeBytes) bytes (target < 5 ms)")
print("""
{"plain_1_sender":{"per_s":\(Int(plainOne.perSecond)),"allocs_per_msg":\(format(plainOne.allocations))},\
"plain_16_senders":{"per_s":\(Int(plainMany.perSecond)),"allocs_per_msg":\(format(plainMany.allocations))},\
"whoami_1_sender":{"per_s":\(Int(builtinOne.perSecond)),"allocs_per_msg":\(format(builtinOne.allocations))},\
"metrics":{"plain_off":\(Int(plain.off)),"plain_on":\(Int(plain.on)),"whoami_off":\(Int(builtin.off)),"whoami_on":\(Int(builtin.on)),\
"exec_us_off":\(format(1e6 / exec.off)),"exec_us_on":\(format(1e6 / exec.on)),"scrape_median_us":\(format(scrapeMedianMs * 1000))}}
""")
