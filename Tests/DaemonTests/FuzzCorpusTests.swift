import Foundation
import GatewayTestSupport
import Testing

/// Every input of the committed fuzz corpus (seeds, and each crash found, once fixed) goes
/// through its target's check again, in the plain build: a regression comes back as a failure here.
@Suite("The fuzz corpus, replayed", .ownThread)
struct FuzzCorpusTests {
    @Test("each target replays its corpus without a trap", arguments: ["json", "config", "varlink", "sse", "irc", "webhook", "telegram", "matrix", "ircstate"])
    func replay(_ name: String) throws {
        let corpus = TestPaths.packageRoot + "/Fuzz/corpus/" + name
        let output = try run([TestPaths.product("gatewayd-fuzz-\(name)"), corpus])
        #expect(output.status == 0, "\(output.standardOutput) \(output.standardError)")
        let count = (try FileManager.default.contentsOfDirectory(atPath: corpus)).count
        #expect(output.standardOutput.contains("\(count) inputs replayed"), "\(output.standardOutput)")
    }
}
