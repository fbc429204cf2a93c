// libFuzzer target: what a Matrix homeserver answers: the answer interpreted as the adapter does
// (`MatrixClientAPI.answer`: a JSON object, or an error with every secret redacted; a login's
// token, a whoami's account), and the answer taken as a `/sync` response by the adapter's real
// `take` (invites, leaves, memberships, encryption, the timeline's messages to the dispatcher),
// twice (the second time with what the first learned), with a transport that answers the calls
// `take` makes (the room's encryption state, its members, join, leave) as the input's first byte
// says, without a network. See FuzzJSON for the two builds.
import AsyncHTTPClient
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import FuzzReplay
import GatewayCore
import JSON
import Logging
import NIOCore
import Platforms
import NIOConcurrencyHelpers

let bot = "@gatewayd:fuzz.example"
let token = "syt_Z2F0ZXdheWQ_FuzzSecretToken0123_4x5y6z"
let password = "fuzz-Secret-password-0123"
let secrets = [token, password]
let quiet = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

/// The input's first byte picks the HTTP status and what was asked (for the answer), and for the
/// sync: whether it is the initial one, whether inviters are allowed, and what the homeserver
/// says of a room's encryption and members. The rest is the body. What must hold: nothing traps;
/// an error's message is one line, holds no 8 characters of a secret in a row that the
/// homeserver's own words did not hold once redacted, and a rate limit waits 100 ms to 300 s;
/// a login's token is one a header can carry; a whoami passes only for the bot's account; a
/// `since` goes into the query as it came and escaped; and every message handed over is a
/// person's (not the bot's), with a room id and a sender, from that room's timeline, of a room
/// with no sign of encryption, never from the initial sync.
func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let seed = input.first else { return }
    let body = Array(input.dropFirst())
    checkAnswer(body, seed: seed)
    guard let response = try? JSONValue.parse(body), response.object != nil else { return }
    checkPosition(response)
    let handed = Box()
    let done = DispatchSemaphore(value: 0)
    Task {
        handed.messages = await takeTwice(response, seed: seed)
        done.signal()
    }
    done.wait()
    if getenv("FUZZ_SHOW") != nil { for message in handed.messages { print(message) } }
    checkHanded(handed.messages, response: response, seed: seed)
}

final class Box: @unchecked Sendable {
    var messages: [InboundMessage] = []
}

// MARK: Answers

func checkAnswer(_ body: [UInt8], seed: UInt8) {
    let status = [200, 400, 401, 403, 404, 429, 500, 502][Int(seed & 7)]
    let what = ["GET /sync", "POST /login", "GET /account/whoami", "POST /join/#room:fuzz.example"][Int(seed >> 3 & 3)]
    let outcome = Result { () throws(MatrixAPIError) in
        try MatrixClientAPI.answer(what, status: status, body: body, base: "https://fuzz.example",
                                   redact: { MatrixClientAPI.redact($0, secrets: secrets) })
    }
    switch outcome {
    case .success(let answer):
        guard (200..<300).contains(status), answer.object != nil else { fatalError("a \(status) taken as an answer") }
        if let login = try? MatrixClientAPI.accessToken(in: answer) {
            guard !login.isEmpty, login.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                fatalError("a token a header cannot carry: \(login.debugDescription)")
            }
        }
        let account = Result { () throws(MatrixAPIError) in
            try MatrixAdapter.checkAccount(answer, userID: bot, redact: { MatrixClientAPI.redact($0, secrets: secrets) })
        }
        switch account {
        case .success: guard answer.object?["user_id"]?.string == bot else { fatalError("whoami passed for \(answer)") }
        case .failure(let error): checkMessage(error.message, answer: answer)
        }
    case .failure(let error):
        checkMessage(error.message, answer: try? JSONValue.parse(body))
        let object = (try? JSONValue.parse(body))?.object
        if status == 429 || object?["errcode"]?.string == "M_LIMIT_EXCEEDED" {
            guard case .rateLimited(let wait) = error.kind else { fatalError("a rate limit taken as \(error.kind)") }
            guard wait >= Duration.milliseconds(100), wait <= Duration.seconds(300) else { fatalError("a rate limit of \(wait)") }
        }
    }
}

/// One line, and no part of a secret that the homeserver's strings (each redacted whole) did
/// not hold.
func checkMessage(_ message: String, answer: JSONValue?) {
    guard !message.contains(where: \.isNewline) else { fatalError("a message of more than one line: \(message.debugDescription)") }
    var said: [String] = []
    func collect(_ value: JSONValue) {
        switch value {
        case .string(let text): said.append(MatrixClientAPI.redact(text, secrets: secrets))
        case .object(let object): for (key, value) in object { said.append(MatrixClientAPI.redact(key, secrets: secrets)); collect(value) }
        case .array(let array): array.forEach(collect)
        default: break
        }
    }
    if let answer { collect(answer) }
    for secret in secrets.map(Array.init) {
        for start in 0...(secret.count - 8) {
            let fragment = String(secret[start..<start + 8])
            if message.contains(fragment) && !said.contains(where: { $0.contains(fragment) }) {
                fatalError("a message holds part of a secret: \(message.debugDescription)")
            }
        }
    }
}

/// The next position is the answer's `next_batch`, and goes into the next query as it is, and
/// into the URL escaped (unreserved characters and %XX only).
func checkPosition(_ response: JSONValue) {
    guard let next = try? MatrixAdapter.nextBatch(response) else { return }
    guard next == response.object?["next_batch"]?.string else { fatalError("next_batch changed") }
    let query = MatrixAdapter.syncQuery(since: next, pollTimeout: .seconds(30))
    guard query.last?.0 == "since", query.last?.1 == next else { fatalError("since not in the query: \(query)") }
    let escaped = MatrixClientAPI.escape(next)
    let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%".utf8)
    guard escaped.utf8.allSatisfy(unreserved.contains) else { fatalError("an escaped since with \(escaped.debugDescription)") }
}

// MARK: The sync

/// What the homeserver answers the calls `take` makes, as the seed's upper bits say.
func transport(_ seed: UInt8) -> MatrixTransport {
    let encryption = [(404, #"{"errcode":"M_NOT_FOUND","error":"Event not found."}"#),
                      (200, #"{"algorithm":"m.megolm.v1.aes-sha2"}"#),
                      (403, #"{"errcode":"M_FORBIDDEN","error":"You are not in the room \#(token)"}"#),
                      (404, #"{"errcode":"M_NOT_FOUND"}"#)][Int(seed >> 5 & 3)]
    let members = seed & 0x80 == 0
        ? #"{"joined":{"@gatewayd:fuzz.example":{},"@alice:fuzz.example":{}}}"#
        : #"{"joined":{"@gatewayd:fuzz.example":{},"@alice:fuzz.example":{},"@bob:fuzz.example":{}}}"#
    return { request, _ in
        let answer: (Int, String) = if request.url.contains("/state/m.room.encryption") {
            encryption
        } else if request.url.contains("/joined_members") {
            (200, members)
        } else {
            (200, #"{"room_id":"!room:fuzz.example"}"#)
        }
        return (answer.0, Array(answer.1.utf8))
    }
}

/// The encryption answer that says a room is encrypted.
func encryptionSays(_ seed: UInt8) -> Bool { seed >> 5 & 3 == 1 }

/// Records what is handed over; allows inviters when the seed says so.
final class Recorder: InboundHandler {
    let handed = NIOLockedValueBox<[InboundMessage]>([])
    let allowing: Bool

    init(allowing: Bool) { self.allowing = allowing }

    func handle(_ message: InboundMessage, replies: any ReplySink) async { handed.withLockedValue { $0.append(message) } }
    func isAllowed(platform: String, sender: String) async -> Bool { allowing }
}

func takeTwice(_ response: JSONValue, seed: UInt8) async -> [InboundMessage] {
    let settings = MatrixConfiguration(homeserver: "https://fuzz.example", userID: bot, credential: .accessToken(Secret(Array(token.utf8))))
    let adapter = MatrixAdapter(configuration: settings, logger: quiet, transport: transport(seed))
    let recorder = Recorder(allowing: seed & 0x08 != 0)
    let initial = seed & 0x10 != 0
    for _ in 0..<2 {
        do {
            _ = try await adapter.take(response, initial: initial, recorder)
        } catch {
            checkMessage(error.message, answer: nil)
        }
    }
    // `hand` returns once the message is taken: the recorder appended it before.
    return recorder.handed.withLockedValue { $0 }
}

func checkHanded(_ messages: [InboundMessage], response: JSONValue, seed: UInt8) {
    guard !messages.isEmpty else { return }
    if seed & 0x10 != 0 { fatalError("the initial sync handed over \(messages.count) message(s)") }
    if encryptionSays(seed) { fatalError("a message handed over from a room the homeserver says is encrypted") }
    let rooms = response.object?["rooms"]?.object
    for message in messages {
        guard message.chat.hasPrefix("!"), message.user.hasPrefix("@"), !message.text.isEmpty, message.user != bot else {
            fatalError("a message that should not have been handed over: \(message)")
        }
        let joined = rooms?["join"]?.object?[message.chat]?.object
        let state = joined?["state"]?.object?["events"]?.array ?? []
        let timeline = joined?["timeline"]?.object?["events"]?.array ?? []
        let invited = rooms?["invite"]?.object?[message.chat]?.object?["invite_state"]?.object?["events"]?.array ?? []
        if (state + timeline + invited).contains(where: { $0.object?["type"]?.string == "m.room.encryption" }) {
            fatalError("a message handed over from an encrypted room: \(message)")
        }
        let event = timeline.first {
            $0.object?["sender"]?.string == message.user && $0.object?["content"]?.object?["body"]?.string == message.text
                && $0.object?["type"]?.string == "m.room.message"
        }
        guard event != nil else { fatalError("a message not in its room's timeline: \(message)") }
    }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzMatrix_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
