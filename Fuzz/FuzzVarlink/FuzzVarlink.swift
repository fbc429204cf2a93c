// libFuzzer target: the varlink control socket's input as the server reads it: NUL-terminated
// messages cut out by the framer, from bytes arriving in any pieces, each decoded as a call (and
// as a reply, what the blocking client reads). See FuzzJSON for the two builds.
import FuzzReplay
import JSON
import NIOCore
import Varlink
import VarlinkProtocol

/// The input's first byte picks how the rest is cut into reads; the limit is small so that the
/// "message too long" path is reached. What must hold: framing never traps; the messages framed
/// from one read and from many are the same, and so is whether the stream ended in an error; a
/// decoded call encodes to a call that decodes to the same.
func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let seed = input.first else { return }
    let stream = Array(input.dropFirst())
    let limit = 64 + Int(seed >> 3) * 32
    let whole = frame([stream[...]], limit: limit)
    let cut = frame(FuzzReplay.pieces(stream, seed: seed), limit: limit)
    guard whole.messages == cut.messages, whole.failed == cut.failed else {
        fatalError("framing depends on the reads: \(whole) vs \(cut)")
    }
    for message in whole.messages {
        guard message.count <= limit, !message.contains(0) else { fatalError("framed a message over the limit or with a NUL") }
        if let call = try? VarlinkCoding.decodeCall(message) {
            guard !call.method.isEmpty, !(call.oneway && call.more) else { fatalError("decoded a call that should be refused") }
            let again = try? VarlinkCoding.decodeCall(VarlinkCoding.encodeCall(call))
            guard again == call else { fatalError("a call does not survive encoding: \(call)") }
        }
        if let reply = try? VarlinkCoding.decodeReply(message) {
            let again = try? VarlinkCoding.decodeReply(VarlinkCoding.encodeReply(reply))
            guard again == reply else { fatalError("a reply does not survive encoding: \(reply)") }
        }
    }
}

/// Appends each read and takes every complete message after it, as the connection handler
/// does; stops at the first error.
func frame(_ reads: [ArraySlice<UInt8>], limit: Int) -> (messages: [[UInt8]], failed: Bool) {
    var framer = VarlinkFramer(maxMessageSize: limit)
    var messages: [[UInt8]] = []
    do {
        for read in reads {
            var buffer = ByteBuffer(bytes: read)
            try framer.append(&buffer)
            while let message = try framer.next() {
                messages.append(Array(message.readableBytesView))
            }
        }
    } catch {
        return (messages, true)
    }
    return (messages, false)
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<target>_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzVarlink_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzReplay.driver(argc, argv, check)
}
#else
@main enum Replay {
    static func main() { FuzzReplay.run(check) }
}
#endif
