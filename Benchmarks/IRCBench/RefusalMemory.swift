// `gatewayd-irc-bench --refusal-memory`: RSS of the dispatcher's memory of refused strangers
// (RefusalNotices) after 100,000 distinct senders, against a plain dictionary that remembers
// them all (what an unbounded table would cost).
import GatewayCore

func refusalMemory() {
    let senders = (0..<100_000).map { "irc:stranger\($0)" }
    let start = memoryKiB().rss
    var notices = RefusalNotices()
    for (index, sender) in senders.enumerated() { _ = notices.shouldTell(sender, now: .milliseconds(index)) }
    let bounded = memoryKiB().rss
    var unbounded: [String: Duration] = [:]
    for (index, sender) in senders.enumerated() { unbounded[sender] = .milliseconds(index) }
    let all = memoryKiB().rss
    print("refusal memory, 100,000 distinct senders: RefusalNotices keeps \(notices.count), RSS +\(bounded - start) KiB; "
          + "a dictionary of all \(unbounded.count): RSS +\(all - bounded) KiB more")
    print(#"{"refusal_remembered":\#(notices.count),"refusal_rss_kib":\#(bounded - start),"unbounded_rss_kib":\#(all - bounded)}"#)
}
