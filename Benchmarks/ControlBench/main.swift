// The control socket against the C floor, in one process and one run. Release build:
//   swift run -c release gatewayd-control-bench [--quick]
//   swift run -c release gatewayd-control-bench --framing   (the framer alone: FramingBench.swift)
// GetStatus round trips (median, p99) against a C fixed-reply server on the same machine, both
// driven by the same C client; 16-client throughput for both; `gatewayctl status` as a whole
// process (posix_spawn to exit). Last line: one JSON document.
import CControlBaseline
import CGatewayShims
import GatewayControl
import GatewayCore
import ProcessRunner
import Varlink
#if canImport(Glibc)
import Glibc
import GatewayWire
import VarlinkProtocol
import VarlinkClient
#endif

struct Host: GatewayControlHost {
    func reloadConfiguration(check: Bool, text: String?) async throws(ConfigError) -> ReloadOutcome {
        ReloadOutcome(applied: !check, revision: nil, changes: [], warnings: [])
    }
    var platformNames: [String] { ["local"] }
}

if CommandLine.arguments.contains("--wire") {
    wireBenchmark()
    exit(0)
}

if CommandLine.arguments.contains("--framing") {
    framingBenchmark()
    exit(0)
}

let quick = CommandLine.arguments.contains("--quick")
let roundTrips = quick ? 2_000 : 20_000
let loadSeconds = quick ? 0.5 : 2.0
let processRuns = quick ? 10 : 50

let directory = String(cString: mkdtemp(strdup("/tmp/gatewayd-control-bench.XXXXXX"))!)
let varlinkPath = directory + "/control"
let floorPath = directory + "/floor"

let dispatcher = Dispatcher(config: GatewayConfig(), agent: EchoAgent())
await dispatcher.markRunning()
let server = VarlinkServer(
    info: VarlinkServiceInfo(vendor: "gatewayd", product: "gatewayd", version: GatewayConstants.version, url: "https://varlink.org"),
    interfaces: [GatewayInterface(dispatcher: dispatcher, host: Host(), permissions: ControlPermissions(daemonUID: getuid(), adminGroupID: nil))])
try await server.bind(path: varlinkPath)

let request = #"{"method":"io.gatewayd.Gateway.GetStatus"}"#
// The floor answers with a reply of the same size as GetStatus's, so only the server differs.
let sample = try VarlinkConnection(path: varlinkPath).call(VarlinkCall(method: Wire.Method.getStatus.qualified))
let replyText = String(decoding: VarlinkCoding.encodeReply(sample), as: UTF8.self)
precondition(gwc_server_start(floorPath, replyText) == 0)

struct Stats {
    let median: Double, p99: Double
    init(_ nanos: [UInt64]) {
        let sorted = nanos.sorted()
        median = Double(sorted[sorted.count / 2]) / 1000
        p99 = Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) / 1000
    }
}

func trips(_ path: String, _ count: Int) -> [UInt64] {
    var latencies = [UInt64](repeating: 0, count: count)
    let rc = gwc_round_trips(path, request, Int32(count), &latencies)
    precondition(rc == 0, "round trips to \(path) failed: \(rc)")
    return latencies
}

func throughput(_ path: String) -> Double {
    var completed: UInt64 = 0
    let rc = gwc_throughput(path, request, 16, loadSeconds, &completed)
    precondition(rc == 0, "load on \(path) failed: \(rc)")
    return Double(completed) / loadSeconds
}

// Warm up, then alternate blocks so drift hits both alike.
_ = trips(floorPath, 500)
_ = trips(varlinkPath, 500)
var floorLatencies: [UInt64] = [], varlinkLatencies: [UInt64] = []
for _ in 0..<10 {
    floorLatencies += trips(floorPath, roundTrips / 10)
    varlinkLatencies += trips(varlinkPath, roundTrips / 10)
}
let floorStats = Stats(floorLatencies), varlinkStats = Stats(varlinkLatencies)
let floorRate = throughput(floorPath)
let varlinkRate = throughput(varlinkPath)

// gatewayctl status as a whole process.
let me = String(cString: realpath("/proc/self/exe", nil))
let gatewayctl = String(me[..<me.lastIndex(of: "/")!]) + "/gatewayctl"
let runner = ProcessRunner(maxConcurrent: 1)
var processTimes: [UInt64] = []
for _ in 0..<processRuns {
    let result = try await runner.run(ProcessSpec(executable: gatewayctl, argv: ["gatewayctl", "--socket", varlinkPath, "status"],
                                                  environment: ProcessRunner.minimalEnvironment))
    precondition(result.exitStatus == 0, "gatewayctl status failed: \(result.standardError.text)")
    processTimes.append(UInt64(result.duration.components.seconds) * 1_000_000_000 + UInt64(result.duration.components.attoseconds / 1_000_000_000))
}
let ctl = Stats(processTimes)

func format(_ value: Double) -> String { "\((value * 10).rounded() / 10)" }
print("Control socket benchmark (release): GetStatus, \(replyText.utf8.count)-byte reply")
print("round trip median us:  C floor \(format(floorStats.median))  varlink \(format(varlinkStats.median))  ratio \(format(varlinkStats.median / floorStats.median)) (target <= 2)")
print("round trip p99 us:     C floor \(format(floorStats.p99))  varlink \(format(varlinkStats.p99))")
print("16 clients req/s:      C floor \(Int(floorRate))  varlink \(Int(varlinkRate)) (target > 50000)")
print("gatewayctl status ms:  median \(format(ctl.median / 1000))  p99 \(format(ctl.p99 / 1000)) (target median < 15)")
print("""
{"round_trip_median_us":{"c_floor":\(format(floorStats.median)),"varlink":\(format(varlinkStats.median))},\
"round_trip_ratio":\(format(varlinkStats.median / floorStats.median)),\
"round_trip_p99_us":{"c_floor":\(format(floorStats.p99)),"varlink":\(format(varlinkStats.p99))},\
"clients16_per_s":{"c_floor":\(Int(floorRate)),"varlink":\(Int(varlinkRate))},\
"gatewayctl_status_ms":{"median":\(format(ctl.median / 1000)),"p99":\(format(ctl.p99 / 1000))}}
""")
await server.shutdown()
unlink(varlinkPath)
unlink(floorPath)
rmdir(directory)
