// libFuzzer target: what an OpenAI-compatible server streams back: the server-sent-events
// parser fed the body in any pieces, each event's data decoded as a chat-completion chunk, and
// the body read as an error body. See FuzzJSON for the two builds.
import FuzzReplay
import OpenAIProtocol

/// The input's first byte picks how the rest is cut into reads; the event limit is small so that
/// "too large" is reached. What must hold: parsing never traps; the events of one read and of
/// many are the same (or both end in "too large"); an event's data holds no CR and its type no
/// line break; what goes to the chat and the journal (`oneLine`) is one line.
func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let seed = input.first else { return }
    let body = Array(input.dropFirst())
    let limit = 32 + Int(seed >> 3) * 64
    var one = ServerSentEventParser(maxEventBytes: limit)
    let whole = try? one.feed(body)
    var many = ServerSentEventParser(maxEventBytes: limit)
    var events: [ServerSentEvent]? = []
    for piece in FuzzReplay.pieces(body, seed: seed) {
        do {
            events! += try many.feed(piece)
        } catch {
            events = nil
            break
        }
    }
    guard whole == events else { fatalError("events depend on the reads: \(String(describing: whole)) vs \(String(describing: events))") }
    for event in whole ?? [] {
        guard !event.data.utf8.contains(13), !(event.type?.utf8.contains { $0 == 10 || $0 == 13 } ?? false) else {
            fatalError("a line break inside an event: \(event)")
        }
        guard event.data != ChatCompletion.done else { continue }
        switch Result(catching: { () throws(ChatCompletion.MalformedChunk) in try ChatCompletion.parseChunk(event.data) }) {
        case .success(let chunk):
            if let usage = chunk.usage, usage.tokensIn < 0 || usage.tokensOut < 0 { fatalError("negative usage") }
            if let error = chunk.error { checkOneLine(error) }
        case .failure(let malformed):
            checkOneLine(malformed.reason)
        }
    }
    if let message = ChatCompletion.errorMessage(body) { checkOneLine(message) }
}

/// `oneLine` of server text: no control character, at most 300 Unicode scalars and the ellipsis
/// (counted in scalars: one character can hold any number of combining marks).
func checkOneLine(_ text: String) {
    let line = ChatCompletion.oneLine(text)
    guard !line.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }), line.unicodeScalars.count <= 301 else {
        fatalError("oneLine left a control character or too much: \(line.debugDescription)")
    }
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzSSE_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
