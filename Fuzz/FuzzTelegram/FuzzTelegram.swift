// libFuzzer target: what the Telegram Bot API answers: the answer's JSON interpreted as the
// adapter does (`TelegramBotAPI.result`: a result, or an error with the token redacted), and
// each update of a `getUpdates` result (or the input itself, as one update) turned into a
// message (`TelegramAdapter.inbound`). See FuzzJSON for the two builds.
import FuzzReplay
import GatewayCore
import JSON
import Platforms

let secretPart = "AAFuzzSecretTokenPart0123456789abcdef"
let token = "123456:" + secretPart

/// The input's first byte picks the method, the HTTP status and whether `allowed_chats` is set;
/// the rest is the body. What must hold: nothing traps; an error message holds no 8 characters
/// of the token's secret in a row that the server's description did not already hold once
/// redacted (the token, or its secret alone, is redacted wherever it stands, also across the cut
/// to 300 characters); the message is one line of at most 400 scalars; a rate limit waits 1 s to an hour; a message has text, numeric chat and
/// user ids, a chat `allowed_chats` allows, and no `@bot` left in a leading command.
func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let seed = input.first else { return }
    let body = Array(input.dropFirst())
    let method = ["getUpdates", "getMe", "sendMessage", "editMessageText"][Int(seed & 3)]
    let status = [200, 200, 400, 401, 404, 409, 429, 502][Int(seed >> 2 & 7)]
    let allowed: Set<Int64>? = seed & 0x20 == 0 ? nil : [42, -1001]
    let outcome = Result { () throws(TelegramAPIError) in
        try TelegramBotAPI.result(of: method, status: status, body: body, base: "https://api.telegram.org",
                                  redact: { TelegramBotAPI.redact($0, token: token) })
    }
    switch outcome {
    case .success(let result):
        for update in result.array ?? [] { checkInbound(update, allowed: allowed) }
    case .failure(let error):
        let secret = Array(secretPart)
        let described = TelegramBotAPI.redact((try? JSONValue.parse(body))?.object?["description"]?.string ?? "", token: token)
        for start in 0...(secret.count - 8) {
            let fragment = String(secret[start..<start + 8])
            if error.message.contains(fragment) && !described.contains(fragment) {
                fatalError("an error message holds part of the token: \(error.message.debugDescription)")
            }
        }
        // One line of at most 300 scalars of the server's words after the method and the code
        // (counted in scalars: one character can hold any number of combining marks).
        if error.message.contains(where: \.isNewline) || error.message.unicodeScalars.count > 400 {
            fatalError("an error message of more than one line or 400 scalars: \(error.message.utf8.count) bytes")
        }
        if case .rateLimited(let wait) = error.kind, wait < .seconds(1) || wait > .seconds(3600) {
            fatalError("a rate limit of \(wait)")
        }
    }
    if let value = try? JSONValue.parse(body) { checkInbound(value, allowed: allowed) }
}

func checkInbound(_ update: JSONValue, allowed: Set<Int64>?) {
    guard let message = TelegramAdapter.inbound(update, botUsername: "FuzzBot", allowedChats: allowed) else { return }
    guard !message.text.isEmpty, let chat = Int64(message.chat), Int64(message.user) != nil,
          allowed.map({ $0.contains(chat) }) ?? true
    else { fatalError("a message that should have been dropped: \(message)") }
    if message.text.hasPrefix("/"), message.text.prefix(while: { !$0.isWhitespace }).contains("@") {
        fatalError("a command still addressed to a bot: \(message.text.debugDescription)")
    }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzTelegram_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
