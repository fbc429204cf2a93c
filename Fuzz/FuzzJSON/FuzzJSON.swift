// libFuzzer target: the JSON parser (varlink calls, webhook bodies, the agent's chunks all go
// through it). Built by Fuzz/run with -sanitize=fuzzer,address and -DFUZZING; a plain build is a
// replayer: `gatewayd-fuzz-json FILE...` runs each file once (the committed corpus, in the tests).
import FuzzReplay
import JSON

/// What every input must satisfy: parsing never traps, and what parses serializes to text that
/// parses back to the same value.
func check(_ bytes: UnsafeBufferPointer<UInt8>) {
    guard let value = try? JSONValue.parse(bytes) else { return }
    let text = value.serialized()
    guard let again = try? JSONValue.parse(text) else { fatalError("serialized JSON does not parse: \(text)") }
    guard again.serialized() == text else { fatalError("serialization is not stable") }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzJSON_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
