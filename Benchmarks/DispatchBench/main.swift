// The dispatcher alone: an in-memory sink, the echo agent, plain messages. Release build:
//   swift run -c release gatewayd-dispatch-bench [--quick]
// Prints messages/s (one sender: the dispatcher actor runs on one thread at a time; and 16
// senders), allocations per message, and the same for an exec-free built-in (/whoami) as a
// baseline without an agent turn. Last line: one JSON document.
import CAllocCounter
import CGatewayShims
import GatewayCore

let quick = CommandLine.arguments.contains("--quick")
let count = quick ? 20_000 : 200_000

/// Counts replies; nothing else (the platform side costs nothing here).
final class CountingSink: ReplySink {
    func send(_ text: String) async {}
}

let dispatcher = Dispatcher(config: GatewayConfig(), agent: EchoAgent())
await dispatcher.markRunning()
let sink = CountingSink()
let messages = (0..<64).map { InboundMessage(platform: "local", chat: "chat\($0)", user: "user\($0)", text: "hello \($0)") }
let whoami = messages.map { message -> InboundMessage in
    var copy = message
    copy.text = "/whoami"
    return copy
}

func measure(_ batch: [InboundMessage], senders: Int) async -> (perSecond: Double, allocations: Double) {
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
print("""
{"plain_1_sender":{"per_s":\(Int(plainOne.perSecond)),"allocs_per_msg":\(format(plainOne.allocations))},\
"plain_16_senders":{"per_s":\(Int(plainMany.perSecond)),"allocs_per_msg":\(format(plainMany.allocations))},\
"whoami_1_sender":{"per_s":\(Int(builtinOne.perSecond)),"allocs_per_msg":\(format(builtinOne.allocations))}}
""")
