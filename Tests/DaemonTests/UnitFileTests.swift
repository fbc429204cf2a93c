import Foundation
import GatewayTestSupport
import Testing

@Suite("Install and unit files", .timeLimit(.minutes(1)), .ownThread)
struct UnitFileTests {
    /// Installs into a temporary PREFIX (binaries from this build), as a packager would.
    func install() throws -> String {
        let prefix = makeTemporaryDirectory("gatewayd-prefix")
        let output = try run(["/bin/sh", TestPaths.packageRoot + "/contrib/install.sh", "--from", TestPaths.buildProducts],
                             environment: environment(with: ["PREFIX": prefix, "DESTDIR": "/"]))
        #expect(output.status == 0, "\(output.standardError)")
        return prefix
    }

    @Test("install.sh honours PREFIX and DESTDIR and rewrites ExecStart")
    func installLayout() throws {
        let prefix = try install()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        for file in ["bin/gatewayd", "bin/gatewayctl", "lib/systemd/system/gatewayd.service", "lib/systemd/system/gatewayd.socket",
                     "lib/systemd/system/gatewayd@.service", "lib/systemd/system/gatewayd@.socket", "lib/sysusers.d/gatewayd.conf", "lib/tmpfiles.d/gatewayd.conf",
                     "lib/systemd/catalog/gatewayd.catalog", "share/bash-completion/completions/gatewayctl",
                     "share/zsh/site-functions/_gatewayctl", "share/doc/gatewayd/gatewayd.yaml.example"] {
            #expect(FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file)")
        }
        let unit = try String(contentsOfFile: prefix + "/lib/systemd/system/gatewayd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(prefix)/bin/gatewayd --config /etc/gatewayd/gatewayd.yaml"))
    }

    @Test("systemd-analyze: verify is clean and the exposure is 1.6 or lower",
          .enabled(if: access("/usr/bin/systemd-analyze", X_OK) == 0, "systemd-analyze is not installed"))
    func analyze() throws {
        let prefix = try install()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        let units = prefix + "/lib/systemd/system"
        let verify = try run(["/usr/bin/systemd-analyze", "verify", units + "/gatewayd.service", units + "/gatewayd.socket",
                                 units + "/gatewayd@.socket"])
        #expect(verify.status == 0)
        #expect(verify.standardError.isEmpty, "\(verify.standardError)")
        let security = try run(["/usr/bin/systemd-analyze", "security", "--offline=true", units + "/gatewayd.service"])
        let line = security.standardOutput.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        let exposure = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        #expect(exposure != nil && exposure! <= 1.6, "\(line)")
    }
}
