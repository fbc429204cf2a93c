import CControlBaseline
import Foundation

/// `--senders N`: N distinct senders, one SendMessage each, from `clients` connections at once,
/// against a gatewayd with `sessions: {max, idle_timeout}`; prints the daemon's RSS before,
/// every tenth of the way, after, and once `idle_timeout` has evicted every idle session (-1 when
/// it is over 300 s: not waited for).
func runSenders(socket: String, pid: Int32, total: Int, clients: Int, idleTimeout: Int) {
    func rssKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? -1
    }
    func sessions() -> Int {
        var reply = [CChar](repeating: 0, count: 4096)
        guard gwc_request(socket, #"{"method":"io.gatewayd.Gateway.GetStatus"}"#, &reply, reply.count) == 0 else { return -1 }
        let text = String(cString: reply)
        guard let range = text.range(of: #""sessions":"#) else { return -1 }
        return Int(text[range.upperBound...].prefix { $0.isNumber }) ?? -1
    }
    func mib(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1024) }

    let before = rssKiB()
    print("senders: \(total) distinct, \(clients) connections; RSS before \(mib(before))")
    let chunk = max(1, total / 10)
    let start = Date()
    var sent = 0
    var peak = before
    while sent < total {
        let count = min(chunk, total - sent)
        var completed: UInt64 = 0
        let rc = gwc_distinct_senders(socket, "sender", UInt64(sent), UInt64(count), Int32(clients), &completed)
        precondition(rc == 0 && completed == UInt64(count), "senders failed: rc \(rc), \(completed) of \(count) answered")
        sent += count
        let rss = rssKiB()
        peak = max(peak, rss)
        let elapsed = Date().timeIntervalSince(start)
        print("  \(sent) sent in \(String(format: "%.1f", elapsed)) s (\(Int(Double(sent) / elapsed))/s): RSS \(mib(rss)), sessions \(sessions())")
    }
    let seconds = Date().timeIntervalSince(start)
    let after = rssKiB(), sessionsAfter = sessions()
    // Past idle_timeout the sweep has evicted every idle session (not waited for when it is
    // longer than 5 minutes: a run that shows memory without eviction).
    let waits = idleTimeout <= 300
    if waits { Thread.sleep(forTimeInterval: Double(idleTimeout + 2)) }
    let evicted = waits ? rssKiB() : -1, sessionsEvicted = waits ? sessions() : -1
    print("after: RSS \(mib(after)) (peak \(mib(peak))), \(sessionsAfter) sessions; after idle_timeout: RSS \(mib(evicted)), \(sessionsEvicted) sessions")
    print("""
        {"senders":\(total),"clients":\(clients),"seconds":\(String(format: "%.1f", seconds)),\
        "messages_per_s":\(Int(Double(total) / seconds)),"rss_kib":{"before":\(before),"peak":\(peak),"after":\(after),\
        "after_idle_timeout":\(evicted)},"sessions":{"after":\(sessionsAfter),"after_idle_timeout":\(sessionsEvicted)}}
        """)
}
