import Foundation
import GatewayTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What ships carries no test code: the C that only tests and benchmarks call lives in
/// CGatewayTestShims, which gatewayd and gatewayctl do not link. Checked on this build's
/// binaries, whose symbol table (a debug build is not stripped) names every C function linked in.
@Suite("Shipped binaries", .timeLimit(.minutes(1)), .ownThread)
struct ShippedBinaryTests {
    /// Every function of CGatewayTestShims's header.
    static let testOnlyShims = [
        "gw_spawn_sleeper_with_pid", "gw_decode_wait_status", "gw_enable_passcred",
        "gw_recv_with_credentials", "gw_unix_bind", "gw_free_loopback_port",
    ]

    @Test("the shell completions in contrib/ are what this gatewayctl generates (a new option is never missing from them)",
          arguments: ["bash", "zsh", "fish"])
    func completionsCurrent(shell: String) throws {
        let generated = try run([TestPaths.product("gatewayctl"), "--generate-completion-script", shell])
        let shipped = try String(contentsOfFile: TestPaths.packageRoot + "/contrib/completions/gatewayctl.\(shell)", encoding: .utf8)
        #expect(generated.status == 0)
        #expect(generated.standardOutput == shipped,
                "regenerate: gatewayctl --generate-completion-script \(shell) > contrib/completions/gatewayctl.\(shell)")
    }

    @Test("gatewayd and gatewayctl link none of the test-only C shims", arguments: ["gatewayd", "gatewayctl"])
    func noTestShims(product: String) throws {
        let binary = try Data(contentsOf: URL(fileURLWithPath: TestPaths.product(product)))
        // The linker keeps whole object files: a shim in CGatewayShims would be in here even unused.
        #expect(contains(binary, "gw_monotonic_nsec"),
                "the symbol table is readable (the check below would otherwise prove nothing)")
        for name in Self.testOnlyShims {
            #expect(!contains(binary, name), "\(product) links \(name)")
        }
    }

    /// Whether `binary` holds `symbol` as a whole NUL-terminated name. memchr and memcmp: Data's
    /// own search takes seconds over a 70 MB debug binary (memmem needs _GNU_SOURCE).
    func contains(_ binary: Data, _ symbol: String) -> Bool {
        let needle = Array("\0\(symbol)\0".utf8)
        return binary.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Bool in
            guard let base = bytes.baseAddress, bytes.count >= needle.count else { return false }
            var offset = 1
            while offset + needle.count - 1 <= bytes.count {
                guard let hit = memchr(base + offset, Int32(needle[1]), bytes.count - offset) else { return false }
                let at = base.distance(to: UnsafeRawPointer(hit))
                if at - 1 + needle.count <= bytes.count, memcmp(base + at - 1, needle, needle.count) == 0 { return true }
                offset = at + 1
            }
            return false
        }
    }
}
