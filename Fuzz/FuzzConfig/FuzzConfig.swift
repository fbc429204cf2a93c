// libFuzzer target: the YAML configuration loader with every section's typed settings (what
// `reload --check` accepts from any admin-group member as text). See FuzzJSON for the two builds.
import FuzzReplay
import GatewayCore

/// Loading never traps, whatever the text: it yields a config or problems with lines.
func check(_ bytes: UnsafeBufferPointer<UInt8>) {
    let text = String(decoding: bytes, as: UTF8.self)
    let outcome = ConfigLoader.parse(text)
    for problem in outcome.problems where problem.message.isEmpty { fatalError("a problem without a message") }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzConfig_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
