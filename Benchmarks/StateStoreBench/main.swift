// The durable queue's cost. Release build:
//   swift run -c release gatewayd-store-bench [--quick] [--dir PATH]
// 1. Queue append + commit, one at a time (each awaited, so no group commit helps): median and
//    p99 latency, on the file system of --dir (default: a new directory under /var/tmp, i.e.
//    disk, not tmpfs).
// 2. The dispatcher with the echo agent and 16 senders on 16 sessions, with the store (append,
//    mark active, mark done per message) and without it (the baseline, same process, same run):
//    messages/s and the ratio. Target: > 5,000 messages/s durable.
// Last line: one JSON document.
import CGatewayShims
import Foundation
import GatewayCore
import StateStore
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let base = arguments.firstIndex(of: "--dir").map { arguments[$0 + 1] } ?? "/var/tmp"
let directory = String(cString: mkdtemp(strdup(base + "/gatewayd-store-bench.XXXXXX"))!)
let appends = quick ? 500 : 5_000
let messagesPerRun = quick ? 5_000 : 50_000

final class NullSink: ReplySink {
    func send(_ text: String) async {}
}

func percentile(_ values: [UInt64], _ p: Double) -> Double {
    let sorted = values.sorted()
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
}

guard let store = StateStore.open(directory: directory + "/append").store else { fatalError("cannot open the store") }
let message = InboundMessage(platform: "local", chat: "bench", user: "bench", text: "a message of ordinary length, say sixty characters.")
var latencies: [UInt64] = []
for _ in 0..<appends {
    let start = gw_monotonic_nsec()
    let id = try await store.append(message, session: "local:dm:bench")
    latencies.append(gw_monotonic_nsec() - start)
    store.markDone([id])
}
await store.flush()

func throughput(durable: Bool, run: Int) async -> Double {
    let durableStore = durable ? StateStore.open(directory: "\(directory)/run\(run)").store : nil
    let dispatcher = Dispatcher(config: GatewayConfig(), agent: EchoAgent(), store: durableStore)
    await dispatcher.markRunning()
    let sink = NullSink()
    let senders = 16
    let start = gw_monotonic_nsec()
    await withTaskGroup(of: Void.self) { group in
        for sender in 0..<senders {
            group.addTask {
                let message = InboundMessage(platform: "local", chat: "chat\(sender)", user: "user\(sender)", text: "hello \(sender)")
                for _ in 0..<(messagesPerRun / senders) { await dispatcher.handle(message, replies: sink) }
            }
        }
    }
    let seconds = Double(gw_monotonic_nsec() - start) / 1e9
    await durableStore?.flush()
    return Double(messagesPerRun) / seconds
}

var memory: [Double] = [], durable: [Double] = []
for run in 0..<3 {
    memory.append(await throughput(durable: false, run: run))
    durable.append(await throughput(durable: true, run: run))
}
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
let appendMedian = percentile(latencies, 0.5), appendP99 = percentile(latencies, 0.99)
let ratio = median(durable) / median(memory)
func format(_ value: Double) -> String { "\((value * 100).rounded() / 100)" }

print("State store benchmark (release), \(directory)")
print("append + commit, one at a time: median \(format(appendMedian)) us, p99 \(format(appendP99)) us (\(appends) appends)")
print("echo agent, 16 sessions: in memory \(Int(median(memory))) msg/s, durable \(Int(median(durable))) msg/s (x\(format(ratio)); target > 5000)")
print("""
{"append_commit_us":{"median":\(format(appendMedian)),"p99":\(format(appendP99))},\
"echo_16_sessions_per_s":{"memory":\(Int(median(memory))),"durable":\(Int(median(durable))),"ratio":\(format(ratio))}}
""")
try? FileManager.default.removeItem(atPath: directory)
