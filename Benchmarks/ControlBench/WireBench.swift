import CGatewayShims
import GatewayWire
import JSON

/// `--wire`: the typed control types to and from JSON values (no socket, no framing): what
/// every call and reply pays for GatewayWire. Medians of 7 runs of 100,000 each.
func wireBenchmark() {
    let status = Wire.Status(state: "running", pid: 4242, version: "0.1.0", uptimeUsec: 123_456_789, turnsInFlight: 2, execRunning: 1,
                             sessions: 17, platforms: ["local", "irc", "webhook"],
                             platformHealth: [Wire.PlatformHealth(name: "irc", health: "up", detail: "127.0.0.1:6667 as gatewayd in #ops")])
    let result = Wire.RunQuickCommand.Result(output: "hi\n", exitStatus: 0, signal: nil, timedOut: false, truncated: false, durationUsec: 812)
    let parameters = Wire.RunQuickCommand.Parameters(name: "hi", args: ["a", "b"])
    let statusJSON = status.wireValue, resultJSON = result.wireValue, parametersJSON = parameters.parameters
    let count = 100_000
    func median(_ body: () -> Void) -> Double {
        var runs: [Double] = []
        for _ in 0..<7 {
            let start = gw_monotonic_nsec()
            body()
            runs.append(Double(gw_monotonic_nsec() - start) / Double(count))
        }
        return runs.sorted()[3]
    }
    var sink = 0
    let cases: [(String, () -> Void)] = [
        ("status_encode_ns", { for _ in 0..<count { sink &+= status.parameters.count } }),
        ("status_decode_ns", { for _ in 0..<count { sink &+= (try! Wire.Status(wire: statusJSON, at: "status")).pid } }),
        ("run_result_encode_ns", { for _ in 0..<count { sink &+= result.parameters.count } }),
        ("run_result_decode_ns", { for _ in 0..<count { sink &+= (try! Wire.RunQuickCommand.Result(wire: resultJSON, at: "")).durationUsec } }),
        ("run_parameters_decode_ns", { for _ in 0..<count { sink &+= (try! Wire.RunQuickCommand.Parameters(parameters: parametersJSON)).name.utf8.count } }),
    ]
    var fields: [String] = []
    for (name, body) in cases {
        let nanoseconds = median(body)
        print("\(name): \((nanoseconds * 10).rounded() / 10)")
        fields.append("\"\(name)\":\((nanoseconds * 10).rounded() / 10)")
    }
    print("{" + fields.joined(separator: ",") + "}")
    if sink == 42 { print("") }
}
