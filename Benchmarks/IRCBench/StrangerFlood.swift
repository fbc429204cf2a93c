// `gatewayd-irc-bench --strangers N [--messages M] [--admin ENTRY]`: N IRC users the access
// policy does not know each send M private messages to the bot at once (through a real ngircd);
// meanwhile an admin (`boss`) asks for an exec quick command. Measures this process's RSS (the
// adapter and dispatcher live here; the strangers are one C thread with small buffers) before,
// during and after the flood, and the admin's reply latency with no flood and behind it.
import CIRCLoad
import Foundation
import GatewayCore
import Platforms

/// Resident set size and its peak, in KiB, from /proc/self/status.
func memoryKiB() -> (rss: Int, peak: Int) {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return (field("VmRSS"), field("VmHWM"))
}

func strangerFlood(port: Int, strangers: Int, messages: Int, admin: String) async throws {
    let dispatcher = Dispatcher(config: ConfigLoader.parse("""
        quick_commands: {up: {type: exec, command: "echo up"}}
        access: {allowed_users: ["irc:boss"], admins: ["\(admin)"]}
        """).config, agent: EchoAgent())
    await dispatcher.markRunning()
    // The defaults an operator gets: burst 10, then 5 lines/s.
    let adapter = try IRCAdapter(configuration: IRCConfiguration(
        host: "127.0.0.1", port: port, nick: "gatewayd", channels: []))
    try await adapter.start(inbound: dispatcher)
    await adapter.waitForRegistration()
    let boss = gwi_irc_connect(Int32(port), "boss")
    precondition(boss >= 0, "boss could not register")
    func ask() -> Double? {
        var latency: UInt64 = 0
        let rc = gwi_irc_ask(boss, "gatewayd", "/up", " PRIVMSG boss :up", 60_000, &latency)
        return rc == 0 ? Double(latency) / 1e6 : nil
    }
    let idleLatency = ask()
    let before = memoryKiB()
    let flood = gwi_strangers_start(Int32(port), "gatewayd", Int32(strangers), Int32(messages))!
    var registered: Int32 = 0, failed: Int32 = 0, sent = 0, replies = 0
    let started = ContinuousClock.now
    // Until every message is sent (and 2 s more for the bot to read them), sampling RSS.
    var peakDuring = 0
    var settled: ContinuousClock.Instant?
    while ContinuousClock.now - started < .seconds(120) {
        gwi_strangers_counts(flood, &registered, &failed, &sent, &replies)
        peakDuring = max(peakDuring, memoryKiB().rss)
        if sent == Int(registered) * messages && Int(registered + failed) == strangers {
            if settled == nil { settled = .now }
            if ContinuousClock.now - settled! > .seconds(2) { break }
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    let floodLatency = ask()
    let during = memoryKiB()
    gwi_strangers_counts(flood, &registered, &failed, &sent, &replies)
    gwi_strangers_stop(flood)
    close(boss)
    let stopStarted = ContinuousClock.now
    await adapter.stop()
    let stopTook = ContinuousClock.now - stopStarted
    func ms(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "null" }
    #if DEBUG
    let build = "debug"
    #else
    let build = "release"
    #endif
    print("IRC stranger flood (\(build)), ngircd, \(strangers) strangers x \(messages) private messages, flood 10 then 5/s")
    print("strangers registered \(registered), failed \(failed), messages sent \(sent), replies they received \(replies)")
    print("RSS KiB: before \(before.rss), peak during \(peakDuring), after \(during.rss) (process peak \(during.peak))")
    print("admin /up latency ms: idle \(ms(idleLatency)), behind the flood \(ms(floodLatency)) (null: none within 60 s)")
    print("stop() took \(stopTook)")
    print(#"{"strangers":\#(strangers),"messages":\#(messages),"rss_before_kib":\#(before.rss),"rss_peak_during_kib":\#(peakDuring),"rss_after_kib":\#(during.rss),"admin_idle_ms":\#(ms(idleLatency)),"admin_flood_ms":\#(ms(floodLatency))}"#)
}
