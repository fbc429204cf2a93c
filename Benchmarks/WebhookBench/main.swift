// The webhook platform under load. Release build:
//   swift run -c release gatewayd-webhook-bench [--quick]
// Starts the webhook adapter in front of a real dispatcher (echo agent) on a loopback port and
// drives it with 16 keep-alive clients (C, in this process), each POSTing a signed delivery and
// reading the answer: requests/s. Also /health (no signature, no dispatch) as the HTTP floor.
// Last line: one JSON document.
import CHTTPLoad
import GatewayCore
import Platforms
#if canImport(Glibc)
import Glibc
#endif

// Memory under attack instead (the numbers in the README's limits):
//   gatewayd-webhook-bench --attack slowloris [COUNT]  COUNT (10000) connections dribbling a head
//   gatewayd-webhook-bench --attack bodies [COUNT]     COUNT (1000) 1 MiB bodies refused, then idle
//   (--max-connections N: the adapter's cap, 256 by default)
if let index = CommandLine.arguments.firstIndex(of: "--attack") {
    let kind = CommandLine.arguments.dropFirst(index + 1).first ?? "slowloris"
    let count = CommandLine.arguments.dropFirst(index + 2).first.flatMap { Int($0) } ?? (kind == "bodies" ? 1000 : 10_000)
    await attack(kind, count: count)
    exit(0)
}

let quick = CommandLine.arguments.contains("--quick")
let seconds = quick ? 0.5 : 2.0
let secret = Array("bench secret".utf8)
let dispatcher = Dispatcher(config: GatewayConfig(), agent: EchoAgent())
await dispatcher.markRunning()
let adapter = WebhookAdapter(configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, secret: secret))
try await adapter.start(inbound: dispatcher)
guard let port = adapter.boundPort else { fatalError("not listening") }

// Without an id: a benchmark repeating one id would measure the replay cache, not the dispatch.
let body = #"{"chat":"bench","user":"bench","text":"hello"}"#
let signature = "sha256=" + HMACSHA256.hex(HMACSHA256.authenticationCode(for: Array(body.utf8), key: secret))
let post = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Hub-Signature-256: \(signature)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
let health = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

func load(_ request: String) -> (perSecond: Double, failed: UInt64) {
    var completed: UInt64 = 0, failed: UInt64 = 0
    let rc = gwh_load(Int32(port), request, 16, seconds, &completed, &failed)
    precondition(rc == 0, "load failed: errno \(rc)")
    return (Double(completed) / seconds, failed)
}

_ = load(post)
var posts: [Double] = [], floors: [Double] = []
for _ in 0..<3 {
    let result = load(post)
    precondition(result.failed == 0, "\(result.failed) requests failed")
    posts.append(result.perSecond)
    floors.append(load(health).perSecond)
}
await adapter.stop()
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
print("webhook benchmark (release), 16 keep-alive clients, \(seconds) s x 3")
print("signed POST /webhook (echo agent): \(Int(median(posts))) requests/s")
print("GET /health (no signature, no dispatch): \(Int(median(floors))) requests/s")
print(#"{"webhook_post_per_s":\#(Int(median(posts))),"health_per_s":\#(Int(median(floors)))}"#)

/// Resident and peak memory of this process, in MiB (the attacker's share is its fd arrays).
func memory() -> (rss: Double, peak: Double) {
    var rss = 0.0, peak = 0.0
    let text = (try? FileBytes.read("/proc/self/status", limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    for line in text.split(separator: "\n") {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, let kib = Double(fields[1]) else { continue }
        if fields[0] == "VmRSS:" { rss = kib / 1024 }
        if fields[0] == "VmHWM:" { peak = kib / 1024 }
    }
    return (rss, peak)
}

func attack(_ kind: String, count: Int) async {
    // Server and attacker share this process: room for both sides' descriptors.
    var limit = rlimit(rlim_cur: 1 << 18, rlim_max: 1 << 18)
    if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 {
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
    let secret = Array("bench secret".utf8)
    let dispatcher = Dispatcher(config: GatewayConfig(), agent: EchoAgent())
    await dispatcher.markRunning()
    var configuration = WebhookConfiguration(host: "127.0.0.1", port: 0, secret: secret)
    if let index = CommandLine.arguments.firstIndex(of: "--max-connections"),
       let limit = CommandLine.arguments.dropFirst(index + 1).first.flatMap({ Int($0) }) {
        configuration.maxConnections = limit
    }
    let adapter = WebhookAdapter(configuration: configuration)
    try! await adapter.start(inbound: dispatcher)
    let port = Int32(adapter.boundPort!)
    _ = load(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", seconds: 0.2)
    let baseline = memory()
    var fds = [Int32](repeating: -1, count: count)
    func line(_ what: String, open: Int32) {
        let now = memory()
        func mib(_ value: Double) -> String { "\((value * 10).rounded() / 10)" }
        print("\(what): rss \(mib(now.rss)) MiB (baseline \(mib(baseline.rss))), peak \(mib(now.peak)) MiB, \(open) of \(count) connections open")
    }
    if kind == "bodies" {
        // Well formed, wrong: the server reads each body before it can tell.
        let signature = "sha256=" + String(repeating: "0", count: 64)
        let answered = gwh_rejected_bodies(port, Int32(count), 1 << 20, signature, &fds)
        line("\(answered) bodies of 1 MiB refused, connections idle", open: gwh_count_open(&fds, Int32(count)))
        sleep(5)
        line("5 s later", open: gwh_count_open(&fds, Int32(count)))
    } else {
        let opened = gwh_slowloris(port, Int32(count), &fds)
        line("\(opened) connections sent an unfinished head", open: gwh_count_open(&fds, Int32(count)))
        for second in 1...15 {
            sleep(1)
            let open = gwh_dribble(&fds, Int32(count))
            if second % 5 == 0 { line("after \(second) s of one byte per second each", open: open) }
        }
    }
    gwh_close_all(&fds, Int32(count))
    let (held, refused, timedOut) = (adapter.statistics.open, adapter.statistics.refused, adapter.statistics.timedOut)
    print("server: \(held) open, \(refused) refused at the cap, \(timedOut) timed out")
    await adapter.stop()
}

func load(port: Int32, _ request: String, seconds: Double) -> UInt64 {
    var completed: UInt64 = 0, failed: UInt64 = 0
    _ = gwh_load(port, request, 4, seconds, &completed, &failed)
    return completed
}
