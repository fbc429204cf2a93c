import CGatewayShims
import NIOCore
import Varlink

/// `--framing`: the varlink framer alone, on the worst input it accepts: a message of the full
/// 1 MiB cap arriving in 1-byte and 64-byte reads (a slow or hostile writer). Each byte should
/// be looked at once, so the time per byte must not grow with the message.
func framingBenchmark() {
    let size = 1 << 20
    let message = [UInt8](repeating: UInt8(ascii: " "), count: size) + [0]
    print("Varlink framing benchmark (release): one \(size)-byte message, fed in small reads")
    var results: [String] = []
    for chunk in [1, 64] {
        let reads = (0..<(message.count + chunk - 1) / chunk).map { index in
            ByteBuffer(bytes: message[(index * chunk)..<min((index + 1) * chunk, message.count)])
        }
        var best = UInt64.max
        for _ in 0..<3 {
            var framer = VarlinkFramer(maxMessageSize: size)
            var pending = reads
            let start = gw_monotonic_nsec()
            var frames = 0
            for index in pending.indices {
                try! framer.append(&pending[index])
                while try! framer.next() != nil { frames += 1 }
            }
            let elapsed = gw_monotonic_nsec() - start
            precondition(frames == 1)
            best = min(best, elapsed)
        }
        let milliseconds = Double(best) / 1_000_000
        print("\(chunk)-byte reads: \((milliseconds * 100).rounded() / 100) ms for the message (\(reads.count) reads, \((Double(best) / Double(size) * 10).rounded() / 10) ns/byte)")
        results.append("\"reads_\(chunk)_ms\":\((milliseconds * 100).rounded() / 100)")
    }
    print("{" + results.joined(separator: ",") + "}")
}
