import GatewayCore
import Testing

/// `sessions:` in the config file: defaults, the keys, their types and ranges, with lines.
@Suite("sessions config")
struct SessionsConfigTests {
    @Test("defaults: 24h idle, 10,000 sessions; both keys read")
    func defaultsAndValues() throws {
        #expect(try config("").sessions == SessionsConfig(idleTimeout: .seconds(86_400), max: 10_000))
        let outcome = ConfigLoader.parse("""
            sessions:
              idle_timeout: 2h
              max: 500
            """)
        #expect(outcome.problems.isEmpty, "\(outcome.problems)")
        #expect(outcome.config.sessions == SessionsConfig(idleTimeout: .seconds(7_200), max: 500))
        #expect(ConfigLoader.parse("sessions: {max: 10000000, idle_timeout: 30d}").problems.isEmpty)
    }

    @Test("unknown keys, wrong types and out-of-range values are errors with path and line")
    func errors() {
        let outcome = ConfigLoader.parse("""
            drain: {timeout: 10s}
            sessions:
              idle_timout: 1h
              max: lots
              idle_timeout: 0
            """)
        #expect(outcome.errors.map(\.description) == [
            "sessions.idle_timout: unknown key (line 3)",
            #"sessions.max: expected a whole number from 1 to 10000000, got "lots" (line 4)"#,
            #"sessions.idle_timeout: duration out of range: must be between 1ms and 30d, got "0" (line 5)"#,
        ])
        #expect(ConfigLoader.parse("sessions: {max: 0}").errors.map(\.description)
            == [#"sessions.max: expected a whole number from 1 to 10000000, got "0" (line 1)"#])
        #expect(ConfigLoader.parse("sessions: {max: 10000001}").errors.count == 1)
        #expect(ConfigLoader.parse("sessions: [1, 2]").errors.map(\.description)
            == ["sessions: expected a mapping (key: value lines) (line 1)"])
    }
}

@Suite("sessions config on reload")
struct SessionsConfigReloadTests {
    @Test("a change of sessions is listed as applying live")
    func changeIsLive() throws {
        let changes = ConfigChange.changes(from: try config(""), to: try config("sessions: {idle_timeout: 1h, max: 50}"))
        #expect(changes == [ConfigChange(section: "sessions", summary: "idle_timeout 1d → 1h, max 10000 → 50", applies: .live)])
    }
}
