@testable import Systemd
import Testing

@Suite("Notifier durations")
struct NotifierDurationTests {
    @Test("EXTEND_TIMEOUT_USEC from any duration: clamped at 0, saturated rather than trapping")
    func saturated() {
        #expect(Notifier.microseconds(.milliseconds(1500)) == 1_500_000)
        #expect(Notifier.microseconds(.seconds(-3)) == 0)
        #expect(Notifier.microseconds(.seconds(Int64.max)) == .max)
        #expect(Notifier.microseconds(.seconds(18_446_744_073_709)) == 18_446_744_073_709_000_000)
        #expect(Notifier.microseconds(.seconds(18_446_744_073_709) + .seconds(1)) == .max)
    }
}
