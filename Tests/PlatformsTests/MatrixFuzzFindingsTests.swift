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

    @Test("a timeline message under a room key that is no room id, or from a sender that is no user id, is not handed over")
    func roomAndSenderChecked() throws {
        let adapter = MatrixAdapter(configuration: MatrixConfiguration(
            homeserver: "https://matrix.example", userID: "@bot:matrix.example", credential: .accessToken(Secret(Array(Self.token.utf8)))))
        func event(_ sender: String) throws -> JSONValue {
            try JSONValue.parse(Array(#"{"type":"m.room.message","sender":"\#(sender)","content":{"msgtype":"m.text","body":"hi"}}"#.utf8))
        }
        #expect(adapter.message(try event("@alice:matrix.example"), room: "!room:matrix.example", type: .group) != nil)
        #expect(adapter.message(try event("@alice:matrix.example"), room: "", type: .group) == nil)
        #expect(adapter.message(try event("@alice:matrix.example"), room: "#alias:matrix.example", type: .group) == nil)
        #expect(adapter.message(try event(""), room: "!room:matrix.example", type: .group) == nil)
        #expect(adapter.message(try event("alice"), room: "!room:matrix.example", type: .group) == nil)
    }

    @Test("a whoami naming another account: shown only when it is a user id, and redacted")
    func whoamiShownSafely() throws {
        func failure(_ user: String) -> MatrixAPIError? {
            let outcome = Result { () throws(MatrixAPIError) in
                try MatrixAdapter.checkAccount(["user_id": .string(user)], userID: "@bot:matrix.example",
                                               redact: { MatrixClientAPI.redact($0, secrets: [Self.token]) })
            }
            guard case .failure(let error) = outcome else { return nil }
            return error
        }
        let broken = try #require(failure("@x:y\nforged line"))
        #expect(broken.kind == .malformed)
        #expect(!broken.message.contains("forged"), "\(broken.message)")
        let echoed = try #require(failure("@\(Self.token):matrix.example"))
        #expect(echoed.kind == .wrongAccount)
        #expect(!echoed.message.contains("syt_") && echoed.message.contains("@<secret>:matrix.example"), "\(echoed.message)")
        #expect(failure("@bot:matrix.example") == nil)
    }

    @Test("a login answer's token with a line break (or a space, or non-ASCII) is refused, not sent in a header")
    func loginTokenChecked() throws {
        for bad in ["syt_abc\r\nX-Forged: 1", "syt abc", "syt_é"] {
            let outcome = Result { () throws(MatrixAPIError) in try MatrixClientAPI.accessToken(in: ["access_token": .string(bad)]) }
            guard case .failure(let error) = outcome else {
                Issue.record("\(bad.debugDescription) taken as a token")
                continue
            }
            #expect(error.kind == .malformed)
        }
        #expect(try MatrixClientAPI.accessToken(in: ["access_token": "syt_abc"]) == "syt_abc")
    }
}
