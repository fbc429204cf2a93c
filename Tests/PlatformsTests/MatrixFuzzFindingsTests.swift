import GatewayCore
import JSON
@testable import Platforms
import Testing

/// What the matrix fuzz target's invariants (Fuzz/FuzzMatrix) caught: each input is also in
/// Fuzz/corpus/matrix, replayed by the corpus tests.
@Suite("Matrix: what the fuzzer found")
struct MatrixFuzzFindingsTests {
    static let token = "syt_Z2F0ZXdheWQ_FuzzSecretToken0123_4x5y6z"

    static func error(status: Int, _ body: String) -> MatrixAPIError? {
        let outcome = Result { () throws(MatrixAPIError) in
            try MatrixClientAPI.answer("GET /sync", status: status, body: Array(body.utf8), base: "https://matrix.example",
                                       redact: { MatrixClientAPI.redact($0, secrets: [Self.token]) })
        }
        guard case .failure(let error) = outcome else { return nil }
        return error
    }

    @Test("an error text with the token across its 300-character cut leaves no part of the token in the message")
    func tokenAcrossTheCut() throws {
        for padding in [250, 280, 290, 299, 300] {
            let text = String(repeating: "x", count: padding) + Self.token + " tail"
            let error = try #require(Self.error(status: 403, #"{"errcode":"M_FORBIDDEN","error":"\#(text)"}"#))
            #expect(error.kind == .forbidden)
            #expect(!error.message.contains("syt_Z2F0"), "padding \(padding): \(error.message)")
        }
    }

    @Test("the errcode is redacted and kept to one line, as the error text is")
    func errcodeRedactedOneLine() throws {
        let error = try #require(Self.error(status: 400, #"{"errcode":"M_\#(Self.token)\nforged: line","error":"bad"}"#))
        #expect(error.message == "GET /sync: 400 M_<secret> forged: line bad", "\(error.message)")
    }
}
