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
                     "share/zsh/site-functions/_gatewayctl", "share/doc/gatewayd/gatewayd.yaml.example",
                     "share/man/man1/gatewayctl.1", "share/man/man5/gatewayd.yaml.5", "share/man/man8/gatewayd.8"] {
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

    @Test("the man pages render without a warning, and gatewayd.yaml(5) names every key of the example config",
          .enabled(if: access("/usr/bin/man", X_OK) == 0, "man is not installed (.ci/install-deps installs man-db)"))
    func manPages() throws {
        for page in ["gatewayd.8", "gatewayctl.1", "gatewayd.yaml.5"] {
            let rendered = try run(["/usr/bin/man", "--warnings", "-l", TestPaths.packageRoot + "/man/" + page],
                                   environment: environment(with: ["MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"]))
            #expect(rendered.status == 0, "\(page): \(rendered.standardError)")
            #expect(rendered.standardError.isEmpty, "\(page): \(rendered.standardError)")
            #expect(rendered.standardOutput.contains("SEE ALSO"), "\(page)")
        }
        let manual = try String(contentsOfFile: TestPaths.packageRoot + "/man/gatewayd.yaml.5", encoding: .utf8)
        let example = try String(contentsOfFile: TestPaths.packageRoot + "/contrib/gatewayd.yaml", encoding: .utf8)
        // Every key the example shows, commented out or not (quick command names are the operator's own).
        let quickCommandNames: Set<String> = ["uptime", "disk", "llm-restart", "st"]
        var keys: Set<String> = []
        for line in example.split(separator: "\n") {
            let text = line.drop { $0 == " " || $0 == "#" }
            guard let colon = text.firstIndex(of: ":"), text.first?.isLetter == true else { continue }
            let key = String(text[..<colon])
            if key.allSatisfy({ $0.isLowercase || $0 == "_" }), !quickCommandNames.contains(key) { keys.insert(key) }
        }
        #expect(keys.count > 30, "\(keys.sorted())")
        for key in keys.sorted() {
            #expect(manual.contains(key), "gatewayd.yaml(5) does not name \(key)")
        }
    }

    @Test("gatewayd.yaml(5) gives the default state directory and control socket as DefaultPaths picks them")
    func manPathDefaults() throws {
        let manual = try String(contentsOfFile: TestPaths.packageRoot + "/man/gatewayd.yaml.5", encoding: .utf8)
        let stateDir = try #require(manual.split(separator: "\n").first { $0.hasPrefix(".BR state_dir ") })
        // $STATE_DIRECTORY, else $XDG_STATE_HOME/gatewayd, else ~/.local/state/gatewayd: never
        // /var/lib/gatewayd outside the unit (a gatewayd started by hand could not write it).
        #expect(stateDir.contains("StateDirectory=") && stateDir.contains("$XDG_STATE_HOME/gatewayd")
                && stateDir.contains("~/.local/state/gatewayd") && !stateDir.contains("/var/lib/gatewayd"), "\(stateDir)")
        #expect(manual.contains("$XDG_RUNTIME_DIR/gatewayd/control"), "the default socket of a gatewayd not run as root")
    }

    @Test("gatewayd.yaml(5) says who may steer as ControlPermissions decides: never a process gatewayd started")
    func manControlPermissions() throws {
        let manual = try String(contentsOfFile: TestPaths.packageRoot + "/man/gatewayd.yaml.5", encoding: .utf8)
        let entry = try #require(manual.components(separatedBy: ".BR control.admin_group ").last?.components(separatedBy: ".SH").first)
        #expect(!entry.contains("always may"), "the daemon's children run as its user and never may: \(entry)")
        #expect(entry.contains("gatewayd started") && entry.contains("SO_PEERPIDFD"), "\(entry)")
    }
}
