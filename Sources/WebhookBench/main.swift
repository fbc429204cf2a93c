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
