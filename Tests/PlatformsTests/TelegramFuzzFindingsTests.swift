import GatewayCore
@testable import Platforms
import Testing

/// What the telegram fuzz target's invariants (Fuzz/FuzzTelegram) caught: each input is also in
/// Fuzz/corpus/telegram, replayed by the corpus tests.
@Suite("Telegram: what the fuzzer found")
struct TelegramFuzzFindingsTests {
    static let token = "123456:AAFuzzSecretTokenPart0123456789abcdef"

    @Test("a server's description with the token across its 300-character cut leaves no part of the token in the error")
    func tokenAcrossTheCut() throws {
        for padding in [250, 280, 290, 299, 300] {
            let description = String(repeating: "x", count: padding) + Self.token + " tail"
            let body = Array(#"{"ok":false,"error_code":400,"description":"\#(description)"}"#.utf8)
            let outcome = Result { () throws(TelegramAPIError) in
                try TelegramBotAPI.result(of: "sendMessage", status: 400, body: body, base: "https://api.telegram.org",
                                          redact: { TelegramBotAPI.redact($0, token: Self.token) })
            }
            guard case .failure(let error) = outcome else {
                Issue.record("an error answer read as a result")
                continue
            }
            #expect(!error.message.contains("AAFuzzSecret"), "padding \(padding): \(error.message)")
            #expect(!error.message.contains("123456:AA"), "padding \(padding): \(error.message)")
        }
    }

    @Test("a server that echoes the token's secret without the bot's id: the secret is redacted too")
    func secretAlone() throws {
        let body = Array(#"{"ok":false,"error_code":409,"description":"CAAFuzzSecretTokenPart0123456789abcdefes request"}"#.utf8)
        let outcome = Result { () throws(TelegramAPIError) in
            try TelegramBotAPI.result(of: "getUpdates", status: 409, body: body, base: "https://api.telegram.org",
                                      redact: { TelegramBotAPI.redact($0, token: Self.token) })
        }
        guard case .failure(let error) = outcome else {
            Issue.record("an error answer read as a result")
            return
        }
        #expect(error.message == "getUpdates: C<token>es request")
        #expect(TelegramBotAPI.redact("short:abc and short:abc", token: "short:abc") == "<token> and <token>")
    }
}
