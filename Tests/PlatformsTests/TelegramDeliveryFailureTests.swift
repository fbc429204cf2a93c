import GatewayCore
import Testing
@testable import Platforms

/// What the ledger hears of a Telegram failure: later (kept) or never (refused).
@Suite("Telegram failures for the ledger")
struct TelegramDeliveryFailureTests {
    @Test("rate limits, timeouts, 5xx, network errors and a refused token are kept for later; 400 and 403 are refused for good",
          arguments: [
              (TelegramAPIError.Kind.http(429), DeliveryFailure.Kind.unreachable),  // a proxy's 429, without Telegram's JSON
              (.http(408), .unreachable), (.http(502), .unreachable), (.network, .unreachable),
              (.rateLimited(retryAfter: .seconds(3)), .unreachable), (.unauthorized, .unreachable),
              (.http(400), .refused), (.http(403), .refused),
          ])
    func mapping(kind: TelegramAPIError.Kind, expected: DeliveryFailure.Kind) {
        #expect(TelegramAdapter.deliveryFailure(TelegramAPIError(kind, "test")).kind == expected)
    }
}
