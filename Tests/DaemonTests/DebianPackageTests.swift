import Foundation
import GatewayTestSupport
import Testing

/// Whether the package may be built here: it needs the Debian tools, and it is opt-in, since a
/// release build of gatewayd and gatewayctl from nothing takes 10-15 minutes on two cores (three
/// times the rest of the suite). `GATEWAYD_TEST_DEB=1 swift test --filter DebianPackageTests`.
enum DebianTools {
    static let variable = "GATEWAYD_TEST_DEB"

    static let unavailableReason: String? = {
        if ProcessInfo.processInfo.environment[variable] != "1" {
            return "opt-in: \(variable)=1 builds the Debian package (a release build, 10-15 min on 2 cores) and checks it"
        }
        for tool in ["/usr/bin/dpkg-buildpackage", "/usr/bin/dh", "/usr/bin/lintian", "/usr/bin/systemd-analyze"]
        where access(tool, X_OK) != 0 {
            return "\(tool) is missing (apt-get install debhelper lintian)"
        }
        return nil
    }()
}

@Suite("The Debian package", .timeLimit(.minutes(40)), .ownThread,
       .enabled(if: DebianTools.unavailableReason == nil, "\(DebianTools.unavailableReason ?? "")"))
struct DebianPackageTests {
    @Test("contrib/build-deb: dpkg-buildpackage builds it, lintian finds no error, the units verify, the layout is install.sh's")
    func buildAndCheck() throws {
        let output = try run([TestPaths.packageRoot + "/contrib/build-deb"])
        #expect(output.status == 0, "\(output.standardOutput)\n\(output.standardError)")
        for check in ["lintian ok", "verify ok", "binaries ok", "layout ok"] {
            #expect(output.standardOutput.contains("check: " + check), "\(output.standardOutput)")
        }
    }
}
