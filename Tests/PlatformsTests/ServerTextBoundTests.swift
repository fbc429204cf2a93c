import GatewayCore
@testable import Platforms
import Testing

/// A homeserver's or the Bot API's error text is cut to 300 Unicode scalars before it goes into
/// an error (the journal, the health detail, STATUS=): a cut at 300 characters was no bound,
/// since one character holds any number of combining marks.
@Suite("Server error text: bounded in scalars")
struct ServerTextBoundTests {
    /// One character: "x" and 200,000 combining acute accents (400 KB of UTF-8).
    static let oneHugeCharacter = "x" + String(repeating: "\u{301}", count: 200_000)

    @Test("a Telegram description of one character with 200,000 combining marks: the error stays short")
    func telegramDescription() {
        let body = Array(#"{"ok":false,"error_code":400,"description":"\#(Self.oneHugeCharacter) tail"}"#.utf8)
        let outcome = Result { () throws(TelegramAPIError) in
            try TelegramBotAPI.result(of: "sendMessage", status: 400, body: body, base: "https://api.telegram.org",
                                      redact: { $0 })
        }
        guard case .failure(let error) = outcome else {
            Issue.record("an error answer read as a result")
            return
        }
        #expect(error.message.unicodeScalars.count <= 400, "\(error.message.utf8.count) bytes")
        #expect(error.message.unicodeScalars.starts(with: "sendMessage: 400 x\u{301}\u{301}".unicodeScalars))
    }

    @Test("a Matrix error text of one huge character is cut to 300 scalars, line breaks still spaces")
    func matrixErrorText() {
        let line = MatrixClientAPI.oneLine(Self.oneHugeCharacter)
        #expect(line.unicodeScalars.count == 300, "\(line.utf8.count) bytes")
        #expect(MatrixClientAPI.oneLine("a\nb\r\nc") == "a b c")
    }
}
