import GatewayCore
import Platforms
import Testing

@Suite("IRC settings")
struct IRCSettingsTests {
    @Test("flood_per_second must be finite, above 0 and sane; flood_burst a whole number from 1")
    func floodSettings() throws {
        let base = ["server": "irc.example.net:6667", "nick": "gw"]
        for value in ["inf", "-inf", "nan", "0", "-1", "1e400", "abc", "", "1001"] {
            #expect(throws: ConfigError.self, "flood_per_second \(value.debugDescription)") {
                try IRCConfiguration.reading(base.merging(["flood_per_second": value]) { $1 })
            }
        }
        for value in ["0", "-1", "1.5", "abc", "18446744073709551616", "1001"] {
            #expect(throws: ConfigError.self, "flood_burst \(value.debugDescription)") {
                try IRCConfiguration.reading(base.merging(["flood_burst": value]) { $1 })
            }
        }
        let fine = try IRCConfiguration.reading(base.merging(["flood_per_second": "0.5", "flood_burst": "1"]) { $1 })
        #expect(fine.floodPerSecond == 0.5 && fine.floodBurst == 1)
        let defaults = try IRCConfiguration.reading(base)
        #expect(defaults.floodPerSecond == 5 && defaults.floodBurst == 10)
    }

    @Test("reconnect_min and reconnect_max read by the adapter itself: 1ms..30d each, the first not above the longest")
    func reconnectSettings() throws {
        let base = ["server": "irc.example.net:6667", "nick": "gw"]
        for (key, value) in [("reconnect_min", "9000000000000000"), ("reconnect_max", "31d"), ("reconnect_min", "0"),
                             ("reconnect_min", "0.0001"), ("reconnect_max", "inf"), ("reconnect_max", "100ms")] {
            #expect(throws: ConfigError.self, "\(key) \(value.debugDescription)") {
                try IRCConfiguration.reading(base.merging([key: value]) { $1 })
            }
        }
        #expect(throws: ConfigError.self) { try IRCConfiguration.reading(base.merging(["reconnect_min": "2m", "reconnect_max": "1m"]) { $1 }) }
        let edge = try IRCConfiguration.reading(base.merging(["reconnect_min": "1ms", "reconnect_max": "30d"]) { $1 })
        #expect(edge.reconnectMin == .milliseconds(1) && edge.reconnectMax == .seconds(30 * 86_400))
    }
}
